"""Two-factor authentication with TOTP apps and one-time recovery codes (django-otp).

Required for every role that can see patient data; the analyst sees aggregates only.
"""

import secrets
from base64 import b32encode

import django_otp
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User

TWO_FACTOR_ROLES = frozenset({Role.GP, Role.TRANSFER_NURSE, Role.PROVIDER_STAFF, Role.COORDINATOR, Role.ADMIN})
RECOVERY_CODE_COUNT = 10


def two_factor_required(user) -> bool:
    return bool(user.is_authenticated and (user.role in TWO_FACTOR_ROLES or user.is_staff))


def has_confirmed_totp(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_totp_device(user: User) -> TOTPDevice:
    """The device being enrolled: reused while unconfirmed so a reload keeps the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_secret_base32(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode()


@transaction.atomic
def totp_enrol(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm an authenticator with its first code; returns fresh recovery codes, or None
    when the code is wrong."""
    if not device.verify_token(token.strip().replace(" ", "")):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_renew(user=device.user)


@transaction.atomic
def recovery_codes_renew(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_verify(*, user: User, token: str):
    """The device that accepts `token` (authenticator code or unused recovery code), or None.
    A recovery code works once; TOTP devices throttle repeated failures themselves."""
    return django_otp.match_token(user, token.strip().replace(" ", "").lower())
