"""Storage: the queries the services share, one module per noun, each function taking the caller's
``Session`` (a service opens the transaction; nothing here begins, commits or audits).

Names say what happens when nothing matches: ``get_*`` raises ``MixunError("not_found")``, ``find_*``
returns None, ``list_*`` returns a (possibly empty) list or dict, ``lock_*`` reads with
``SELECT … FOR UPDATE``. Layers (pyproject.toml, docs/adr/0012-*.md): services → storage → db and domain;
storage imports no service.

Here so far: users, units, conversations (with their members and the membership log), messages, the
event log, announcements, drafts, account applications, approvals, group requests, reads of the audit
trail, sessions, credentials, the login throttle and alerts, search keys and the directory's reads, SCIM's
records, function rules and fault reports (docs/adr/0012-*.md, docs/adr/0019-*.md); the rest still query inline in their services and move
here as they are touched. The send path's batch statements stay in ``sendpath/batch.py`` (built once,
spelt for ``db.bulk.Round``).
"""

from sqlalchemy.orm import Session as Session

# The session a service opens and hands down: services whose queries all live here import it from this
# package, so they import no SQLAlchemy themselves (the ``services-build-no-sql`` contract, pyproject.toml).
__all__ = ["Session"]
