"""Look-ups on people and units that login and account management share (``get_`` raises 404,
``find_`` returns None). No use case lives here: services/auth.py reads people through it, so
services/users.py, which ends sessions through auth, sits above both (users re-exports these names).
The queries are storage/users.py's and storage/units.py's."""

from __future__ import annotations

from mixun.storage.units import unit_path
from mixun.storage.users import find_user_by_username, get_user

__all__ = ["find_user_by_username", "get_user", "unit_path"]
