import io

from tests.corpus.make_bad_inputs import ct_slice, zip_of
from triage.studies import uploads
from triage.studies.uploads import IncomingFile, expand_upload


def expand(name, data):
    return list(expand_upload([IncomingFile(name=name, stream=io.BytesIO(data))]))


def test_expand_upload__yields_plain_file_unchanged():
    data = ct_slice()
    assert expand("a.dcm", data) == [uploads.Candidate("a.dcm", data=data)]


def test_expand_upload__streams_zip_entries_with_prefixed_names():
    data = ct_slice()
    out = expand("u.zip", zip_of({"dir/a.dcm": data, "__MACOSX/._a.dcm": b"junk"}))
    assert out == [uploads.Candidate("u.zip/dir/a.dcm", data=data)]


def test_expand_upload__caps_total_expanded_bytes(settings):
    settings.UPLOAD_MAX_EXPANDED_BYTES = 10_000
    out = expand("u.zip", zip_of({f"{i}.dcm": bytes(range(256)) * 30 for i in range(3)}))
    assert [c.reason for c in out] == ["", uploads.ZIP_TOO_LARGE_MSG.format(limit_mb=0)]


def test_expand_upload__corrupt_zip_is_rejected():
    assert expand("u.zip", b"PK\x03\x04garbage")[0].reason == uploads.BAD_ZIP_MSG


def test_expand_upload__too_many_entries(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_ENTRIES", 2)
    out = expand("u.zip", zip_of({f"{i}.dcm": b"x" for i in range(4)}))
    assert [c.reason for c in out][-1] == uploads.TOO_MANY_ENTRIES_MSG.format(limit=2)
