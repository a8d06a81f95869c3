import pytest

from triage.exports import secrets, services


def test_retry_delay_s__doubles_up_to_an_hour():
    assert [services.retry_delay_s(n) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_secrets__round_trip_and_a_changed_key_is_a_named_error(settings):
    token = secrets.encrypt("pw")
    assert token != "pw" and secrets.decrypt(token) == "pw" and secrets.encrypt("") == ""
    settings.SECRET_KEY = "another-key"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        secrets.decrypt(token)
