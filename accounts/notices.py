"""Security emails to users, white-branded with their firm's name. Run in the user's firm scope
(the tasks in ``accounts.tasks``): users are under row-level security."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import UserSession


def new_device_notice(*, user_session_id: int) -> bool:
    """Tell a user about a sign-in from a browser not seen before. Sent once per session."""
    session = UserSession.objects.select_related("user__firm").filter(pk=user_session_id).first()
    if session is None:
        return False
    user = session.user
    context = {"user": user, "firm": user.firm, "session": session}
    send_mail(
        subject=f"{user.firm.name}: new sign-in to your account",
        message=render_to_string("accounts/email/new_device.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True


def invitation(*, user_id: int) -> bool:
    """Email a new user the link to set their password (valid for a few days, once)."""
    from accounts.models import User
    from accounts.services import invite_link

    user = User.objects.select_related("firm").filter(pk=user_id, is_active=True).first()
    if user is None or user.has_usable_password():
        return False
    context = {"user": user, "firm": user.firm, "link": settings.SITE_URL + invite_link(user),
               "days": settings.PASSWORD_RESET_TIMEOUT // 86400}  # fmt: skip
    send_mail(
        subject=f"{user.firm.name} invites you to AdvisorPortal",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return True
