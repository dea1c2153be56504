"""Conversations, members, messages, read receipts, images, files and secure packs."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.types import Message, Scope, Send

from mixun import metrics
from mixun.api import edge_input, models
from mixun.api import errors as api_errors
from mixun.api import models_chat as mc
from mixun.api.deps import MAX_ID, Id, Limit, gate
from mixun.api.responses import ORJSONResponse, file_response
from mixun.api.schemas import (
    AdminIn,
    ConversationCreate,
    ConversationUpdate,
    ForwardIn,
    GroupSettingsIn,
    MembersIn,
    MessageCreate,
    MessageUpdate,
    NoticeIn,
    NoticeSeenIn,
    PrefsIn,
    ReactionIn,
    ReadIn,
    UserIdIn,
)
from mixun.domain.roles import Perm
from mixun.errors import MixunError
from mixun.sendpath.request import SendOutcome, SendRequest
from mixun.services import attachments, conversations, group_life, message_actions, messages, previews
from mixun.services.runtime import Ctx

router = APIRouter(prefix="/api/v1", tags=["conversations"])
CHAT_GATE = gate(Perm.CHAT)
Chat = Annotated[Ctx, Depends(CHAT_GATE)]
SEND_PATH = re.compile(r"/api/v1/conversations/([1-9][0-9]{0,15})/messages")
Seq = Annotated[int | None, Query(ge=0, le=MAX_ID)]


@router.post("/conversations", status_code=201, response_model=models.Conversation | models.GroupPending,
             responses={202: {"model": models.GroupPending, "description":
                              "A group with people of other units that needs the unit head's approval: the request "
                              "filed (``pending`` true, ``request``; GET /group-requests shows where it stands)"}})
def create(body: ConversationCreate, ctx: Chat, response: Response) -> dict[str, Any]:
    try:
        return conversations.create_conversation(ctx, body.kind, body.members, body.name)
    except MixunError as exc:
        if exc.code != "group_approval_required":
            raise
    from mixun.services import group_requests

    response.status_code = 202
    return {"pending": True, "request": group_requests.file_request(ctx, body.name or "", body.members)}


@router.get("/conversations", response_model=models.ConversationList)
def list_(ctx: Chat) -> ORJSONResponse:
    # Answered as built (the views are the model's, tests/api/test_response_models.py holds them to it):
    # validating and re-serialising through the model cost more than building the list.
    return ORJSONResponse(conversations.list_conversations(ctx))


@router.get("/conversations/{conversation_id}", response_model=models.Conversation)
def get(conversation_id: Id, ctx: Chat) -> dict[str, Any]:
    return conversations.get_conversation(ctx, conversation_id)


@router.patch("/conversations/{conversation_id}", response_model=models.Conversation)
def rename(conversation_id: Id, body: ConversationUpdate, ctx: Chat) -> dict[str, Any]:
    return conversations.rename(ctx, conversation_id, body.name)


@router.post("/conversations/{conversation_id}/members", response_model=models.Conversation)
def add_members(conversation_id: Id, body: MembersIn, ctx: Chat) -> dict[str, Any]:
    return conversations.add_members(ctx, conversation_id, body.user_ids)


@router.delete("/conversations/{conversation_id}/members/{user_id}", response_model=models.Conversation)
def remove_member(conversation_id: Id, user_id: Id, ctx: Chat) -> dict[str, Any]:
    return conversations.remove_member(ctx, conversation_id, user_id)


@router.post("/conversations/{conversation_id}/leave", status_code=204)
def leave(conversation_id: Id, ctx: Chat) -> Response:
    conversations.leave(ctx, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/owner", response_model=models.Conversation)
def transfer(conversation_id: Id, body: UserIdIn, ctx: Chat) -> dict[str, Any]:
    return conversations.transfer_owner(ctx, conversation_id, body.user_id)


@router.post("/conversations/{conversation_id}/admins", response_model=models.Conversation)
def set_admin(conversation_id: Id, body: AdminIn, ctx: Chat) -> dict[str, Any]:
    return conversations.set_admin(ctx, conversation_id, body.user_id, body.admin)


@router.post("/conversations/{conversation_id}/messages", status_code=201, response_model=models.Message)
async def send(conversation_id: Id, body: MessageCreate, ctx: Chat) -> ORJSONResponse:
    return await _send(ctx, conversation_id, body)


async def _send(ctx: Ctx, conversation_id: int, body: MessageCreate) -> ORJSONResponse:
    # Written by the send queue's writer (group commit); answered once its batch has committed.
    request = SendRequest(ctx, conversation_id, body.text, client_id=body.client_id, urgent=body.urgent,
                          confirm=body.confirm, reply_to=body.reply_to)
    queue = ctx.rt.send_queue
    assert queue is not None, "the app puts its send queue in the runtime (api/app.py)"
    started = time.perf_counter()
    outcome: SendOutcome = await queue.send(request)
    try:
        view, created = outcome.unwrap()
    except MixunError as exc:
        metrics.SEND_FAILURES.labels(exc.code).inc()
        raise
    if created:
        metrics.SENDS.inc()
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
    return ORJSONResponse(view, status_code=201)


async def send_direct(scope: Scope, body: bytes, respond: Send) -> bool:
    """The busiest request, answered without the framework's routing and dependency layers (they cost
    more than the send itself): called by the edge middleware for ``POST`` on SEND_PATH, it handles
    only a well-formed JSON body whose caller passes the same gate the route declares (CHAT_GATE). For
    anything else it returns False and the request takes the ordinary route, which gives the usual
    answers (validation details, 401, 403) from the usual code."""
    match = SEND_PATH.fullmatch(scope["path"])
    headers = dict(scope["headers"])
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if match is None or ctype != b"application/json" or int(match.group(1)) > MAX_ID:
        return False
    try:
        data = MessageCreate.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return False
    request = Request(scope)
    try:
        ctx = await CHAT_GATE(request)
    except MixunError:
        return False
    except Exception as exc:  # the edge runs in front of the framework's error handler: answer here
        await api_errors.unexpected(request, exc)(scope, _no_body, respond)
        return True
    try:
        response = await _send(ctx, int(match.group(1)), data)
    except MixunError as exc:
        response = api_errors.mixun_error(request, exc)
    except Exception as exc:
        response = api_errors.unexpected(request, exc)
    await response(scope, _no_body, respond)
    return True


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


@router.get("/conversations/{conversation_id}/messages", response_model=models.MessagePage)
def history(conversation_id: Id, ctx: Chat, after_seq: Seq = None, before_seq: Seq = None,
            limit: Limit = 50) -> ORJSONResponse:
    # As the list: the page as built, in one orjson pass (FastAPI's validation and json.dumps of a page
    # of 30 cost ~0.6 ms, orjson 0.01 ms).
    return ORJSONResponse({"messages": message_actions.history_page(ctx, conversation_id, after_seq, before_seq, limit)})


@router.post("/conversations/{conversation_id}/read", status_code=204)
def read(conversation_id: Id, body: ReadIn, ctx: Chat) -> Response:
    messages.mark_read(ctx, conversation_id, body.seq)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/images", status_code=201, response_model=models.Message)
def upload_image(conversation_id: Id, ctx: Chat, file: Annotated[UploadFile, File()],
                 client_id: Annotated[str | None, Form(max_length=64)] = None) -> JSONResponse:
    edge_input.require_text(client_id=client_id, filename=file.filename)
    data = file.file.read(ctx.rt.settings.max_image_bytes + 1)
    view = attachments.send_image(ctx, conversation_id, data, file.filename or "image", client_id)
    return JSONResponse(view, status_code=201)


@router.post("/conversations/{conversation_id}/files", status_code=201, response_model=models.Message)
def upload_file(conversation_id: Id, ctx: Chat, file: Annotated[UploadFile, File()],
                client_id: Annotated[str | None, Form(max_length=64)] = None,
                confirm: Annotated[bool, Form()] = False) -> JSONResponse:
    """A document (Word, Excel, PowerPoint, PDF, TXT/CSV, image): inspected, virus-scanned, sent."""
    edge_input.require_text(client_id=client_id, filename=file.filename)
    data = file.file.read(ctx.rt.settings.max_file_bytes + 1)
    view = attachments.send_file(ctx, conversation_id, data, file.filename or "file", client_id, confirm)
    return JSONResponse(view, status_code=201)


@router.post("/conversations/{conversation_id}/secure-pack", status_code=201, response_model=mc.SecurePackMessage)
def secure_pack(conversation_id: Id, ctx: Chat, files: Annotated[list[UploadFile], File()],
                password: Annotated[str, Form(max_length=128)],
                client_id: Annotated[str | None, Form(max_length=64)] = None,
                name: Annotated[str | None, Form(max_length=200)] = None) -> JSONResponse:
    """D2: files packed into an AES-256 ZIP with the sender's password (checked, never kept)."""
    edge_input.require_text(password=password, client_id=client_id, name=name,
                            **{f"files.{i}.filename": f.filename for i, f in enumerate(files)})
    limit = ctx.rt.settings.max_file_bytes
    loaded, total = [], 0
    for f in files:
        data = f.file.read(limit + 1 - total)
        total += len(data)
        if total > limit:
            raise MixunError("file_too_large", limit=limit)
        loaded.append((f.filename or "file", data))
    view = attachments.send_secure_pack(ctx, conversation_id, loaded, password, client_id, name)
    return JSONResponse(view, status_code=201)


@router.get("/attachments/{attachment_id}")
def download(attachment_id: Id, ctx: Chat) -> Response:
    data, mime, name = attachments.read_attachment(ctx, attachment_id, thumbnail=False)
    return file_response(data, mime, name)


@router.get("/attachments/{attachment_id}/thumbnail")
def thumbnail(attachment_id: Id, ctx: Chat) -> Response:
    data, mime, name = attachments.read_attachment(ctx, attachment_id, thumbnail=True)
    return file_response(data, mime, name)


@router.patch("/messages/{message_id}", response_model=models.Message)
def edit(message_id: Id, body: MessageUpdate, ctx: Chat) -> dict[str, Any]:
    return messages.edit_message(ctx, message_id, body.text, body.confirm)


@router.post("/messages/{message_id}/recall", response_model=models.Message)
def recall(message_id: Id, ctx: Chat) -> dict[str, Any]:
    return messages.recall_message(ctx, message_id)


@router.get("/messages/{message_id}/receipts", response_model=mc.Receipts)
def receipts(message_id: Id, ctx: Chat) -> dict[str, Any]:
    return messages.receipts(ctx, message_id)


# ---- group life ----------------------------------------------------------------------------------------

@router.get("/conversations/{conversation_id}/system", response_model=mc.SystemLines)
def system_lines(conversation_id: Id, ctx: Chat) -> dict[str, Any]:
    """The group's system lines (created, invited, removed, left, renamed, owner...) since one joined."""
    return group_life.system_log(ctx, conversation_id)


@router.put("/conversations/{conversation_id}/notice", response_model=models.Conversation)
def set_notice(conversation_id: Id, body: NoticeIn, ctx: Chat) -> dict[str, Any]:
    """群公告: owner or group admins; an empty text takes it down."""
    return group_life.set_notice(ctx, conversation_id, body.text)


@router.post("/conversations/{conversation_id}/notice/seen", response_model=mc.ConversationPrefs)
def notice_seen(conversation_id: Id, body: NoticeSeenIn, ctx: Chat) -> dict[str, Any]:
    return group_life.notice_seen(ctx, conversation_id, body.version)


@router.put("/conversations/{conversation_id}/prefs", response_model=mc.ConversationPrefs)
def set_prefs(conversation_id: Id, body: PrefsIn, ctx: Chat) -> dict[str, Any]:
    """置顶 and 消息免打扰, for the caller only."""
    return group_life.set_prefs(ctx, conversation_id, body.pinned, body.muted)


@router.put("/conversations/{conversation_id}/settings", response_model=models.Conversation)
def set_settings(conversation_id: Id, body: GroupSettingsIn, ctx: Chat) -> dict[str, Any]:
    return group_life.set_settings(ctx, conversation_id, body.all_may_mention_all)


@router.post("/conversations/{conversation_id}/dissolve", status_code=204)
def dissolve(conversation_id: Id, ctx: Chat) -> Response:
    """解散群: the owner only; the archive keeps everything."""
    group_life.dissolve(ctx, conversation_id)
    return Response(status_code=204)


# ---- message actions -----------------------------------------------------------------------------------

@router.post("/messages/forward", status_code=201, response_model=mc.Forwarded)
def forward(body: ForwardIn, ctx: Chat) -> dict[str, Any]:
    """Forward one by one or merged (合并转发); the same checks as a send, for the target."""
    return message_actions.forward(ctx, body.message_ids, body.conversation_id, body.merged, body.confirm)


@router.get("/messages/{message_id}/bundle", response_model=mc.Bundle)
def bundle(message_id: Id, ctx: Chat) -> dict[str, Any]:
    return message_actions.bundle(ctx, message_id)


@router.post("/messages/{message_id}/reactions", response_model=mc.Reactions)
def react(message_id: Id, body: ReactionIn, ctx: Chat) -> dict[str, Any]:
    return message_actions.react(ctx, message_id, body.emoji, body.on)


@router.get("/attachments/{attachment_id}/preview")
def preview(attachment_id: Id, ctx: Chat) -> Response:
    """An Office document as sanitised, watermarked HTML (never cached, nothing active may run)."""
    page = previews.preview(ctx, attachment_id)
    return Response(page, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": previews.CSP, "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "no-referrer"})
