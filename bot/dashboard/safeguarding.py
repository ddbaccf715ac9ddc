"""The safeguarding queue: every possible disclosure, newest first, for the lead to act on.

Organisers and users with the `lead` role see it; reviewers get 403 on every page and
form here. Acting on a flag (acknowledging it, revealing contact details) is for the
safeguarding lead: with WITHUS_SAFEGUARDING_LEAD_EMAILS set, only those users.

Contact details are shown only in the page that answers the reveal form, to the user
who gave the reason, for that flag: never stored in the session, never in a later page.
Opening a flag (which decrypts its words) and revealing are audit-logged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bot.dashboard import bp, current_runtime
from bot.dashboard.forms import AcknowledgeForm, RevealForm
from bot.services import safeguarding
from bot.services.names import CHANNEL_NAMES, LANGUAGE_NAMES
from storage.repositories.privacy import PrivacyRepository
from storage.repositories.safeguarding import SafeguardingRepository
from storage.uow import UnitOfWork

F = TypeVar("F", bound=Callable[..., Any])


def safeguarding_queue(view: F) -> F:
    """Organisers and safeguarding leads only: a reviewer gets 403 here, whatever the URL."""
    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        if not safeguarding.may_see_queue(getattr(current_user, "role", None)):
            abort(403)
        return view(*args, **kwargs)

    wrapped = login_required(check)
    wrapped.required_role = "lead"
    return wrapped


@bp.record_once
def _old_alert_links(state: Any) -> None:
    """Alerts sent before the queue existed link to /safeguarding/<id>: open the flag."""
    state.app.add_url_rule("/safeguarding/<int:flag_id>", "safeguarding_link",
                           lambda flag_id: redirect(url_for("dashboard.safeguarding_flag",
                                                            flag_id=flag_id)))


@bp.app_context_processor
def open_flags() -> dict[str, Any]:
    """The number of open flags, for the navigation link (only for those who see them)."""
    def count() -> int:
        if not safeguarding.may_see_queue(getattr(current_user, "role", None)):
            return 0
        runtime = current_runtime()
        with runtime.sessions() as session:
            return SafeguardingRepository(session, runtime.vault).open_count()

    return {"safeguarding_open_count": count,
            "sees_safeguarding": safeguarding.may_see_queue(getattr(current_user, "role", None))}


def _user_id() -> int:
    return int(current_user.get_id())


def _may_act() -> bool:
    runtime = current_runtime()
    with runtime.sessions() as session:
        return safeguarding.may_act(session, _user_id(), runtime.settings)


@bp.get("/safeguarding")
@safeguarding_queue
def safeguarding_queue_page() -> str:
    runtime = current_runtime()
    show_all = request.args.get("all") == "1"
    with runtime.sessions() as session:
        repo = SafeguardingRepository(session, runtime.vault)
        rows = repo.rows(open_only=not show_all, limit=500)
        words = {row.flag.id: repo.words(row.flag) for row in rows}
        open_count = repo.open_count()
        PrivacyRepository(session).audit(runtime.clock(), _user_id(), "safeguarding_view",
                                         "safeguarding_queue", detail={"flags": len(rows)})
        session.commit()
    return render_template("dashboard/safeguarding.html", rows=rows, words=words,
                           show_all=show_all, open_count=open_count,
                           describe_stage=safeguarding.describe_stage)


def _flag_page(flag_id: int, *, revealed: tuple[str, str | None] | None = None,
               ack_form: AcknowledgeForm | None = None, reveal_form: RevealForm | None = None,
               status: int = 200) -> tuple[str, int]:
    runtime = current_runtime()
    with runtime.sessions() as session:
        repo = SafeguardingRepository(session, runtime.vault)
        found = repo.rows(ids=[flag_id])
        if not found:
            abort(404)
        row = found[0]
        words = repo.words(row.flag)
        others = repo.others_from_same_person(row.flag)
        requests = repo.contact_requests(flag_id)
        may_act = safeguarding.may_act(session, _user_id(), runtime.settings)
        has_address = PrivacyRepository(session).vault_channel(row.flag.participant_id) is not None
        if revealed is None:
            PrivacyRepository(session).audit(runtime.clock(), _user_id(), "safeguarding_view",
                                             f"safeguarding_flag:{flag_id}")
            session.commit()
    return render_template(
        "dashboard/safeguarding_flag.html", row=row, flag=row.flag, words=words,
        others=others, requests=requests, may_act=may_act, has_address=has_address,
        revealed=revealed, ack_form=ack_form or AcknowledgeForm(),
        reveal_form=reveal_form or RevealForm(), describe_stage=safeguarding.describe_stage,
        channel_names=CHANNEL_NAMES, language_names=LANGUAGE_NAMES,
    ), status


@bp.get("/safeguarding/<int:flag_id>")
@safeguarding_queue
def safeguarding_flag(flag_id: int) -> tuple[str, int]:
    return _flag_page(flag_id)


@bp.post("/safeguarding/<int:flag_id>/acknowledge")
@safeguarding_queue
def acknowledge_safeguarding_flag(flag_id: int) -> Any:
    form = AcknowledgeForm()
    if not _may_act():
        abort(403)
    if not form.validate_on_submit():
        return _flag_page(flag_id, ack_form=form, status=400)
    runtime = current_runtime()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        try:
            safeguarding.acknowledge_flag(uow, flag_id, _user_id(), form.note.data,
                                          runtime.clock(), settings=runtime.settings)
        except LookupError:
            abort(404)
        uow.commit()
    flash(f"Flag {flag_id} acknowledged, with your note.", "info")
    return redirect(url_for("dashboard.safeguarding_flag", flag_id=flag_id))


@bp.post("/safeguarding/<int:flag_id>/reveal")
@safeguarding_queue
def reveal_safeguarding_contact(flag_id: int) -> Any:
    form = RevealForm()
    if not _may_act():
        abort(403)
    if not form.validate_on_submit():
        return _flag_page(flag_id, reveal_form=form, status=400)
    runtime = current_runtime()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        try:
            revealed = safeguarding.request_contact(uow, flag_id, _user_id(),
                                                    form.reason.data or "", runtime.clock(),
                                                    settings=runtime.settings)
        except ValueError as exc:
            form.reason.errors = [str(exc)]
            return _flag_page(flag_id, reveal_form=form, status=400)
        except LookupError:
            if SafeguardingRepository(uow.session, runtime.vault).flag(flag_id) is None:
                abort(404)
            form.reason.errors = ["No contact details are held for this person any more "
                                  "(they were erased, or their address expired)."]
            return _flag_page(flag_id, reveal_form=form, status=409)
        uow.commit()
    return _flag_page(flag_id, revealed=revealed, reveal_form=RevealForm(formdata=None))
