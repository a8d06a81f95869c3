"""A seeded mutation engine: ≥ 1,000 malformed or adversarial DICOM files and zip archives.

Seeds are real CT instances: small phantoms (``inference.phantom``), the tiny slices of
``tests.corpus.make_bad_inputs`` and, when ``../shared/data`` exists, a few real files from it
(skipped with a message otherwise). Each seed goes through byte-level mutations (truncation,
bit flips in the header, broken element lengths and VRs, random bytes behind a DICM preamble)
and dataset-level ones (missing tags, 65535-pixel images, wrong types, deflate bombs); zip
mutations add nesting, bombs, traversal names and corruption. The same seed gives the same
corpus. Run ``python -m tests.fuzz.corpus OUT_DIR [COUNT]`` to write it out.
"""
from __future__ import annotations

import io
import random
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

from tests.corpus import make_bad_inputs as bad

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL_SOURCES = ("dicom-series-lung-pet-ct-dx", "dicom-covid19-ny-sbu", "dicom-format-tests")
DEFAULT_COUNT = 1200
PREAMBLE = b"\x00" * 128 + b"DICM"


@dataclass(frozen=True)
class Case:
    """One generated input: a file name, its bytes and the mutation that made it."""

    name: str
    data: bytes
    mutation: str


# --- Seeds ----------------------------------------------------------------------------------

def phantom_seeds(*, count: int = 3) -> list[bytes]:
    from inference.phantom import write_phantom_series

    seeds = []
    with tempfile.TemporaryDirectory() as out:
        for seed in range(count):
            folder = Path(out) / str(seed)
            write_phantom_series(folder, slices=8, size_px=64, severity="mild", seed=seed)
            seeds.extend(p.read_bytes() for p in sorted(folder.glob("*.dcm"))[:1])
    return seeds


def real_seeds(*, per_source: int = 3, max_bytes: int = 2 * 1024**2) -> tuple[list[bytes], str]:
    """Return a few real DICOM files from ../shared/data, and a note (why none, when none)."""
    if not SHARED_DATA.is_dir():
        return [], f"no {SHARED_DATA}: real-file mutations skipped, phantoms only"
    seeds: list[bytes] = []
    for source in REAL_SOURCES:
        files = sorted(p for p in (SHARED_DATA / source).rglob("*.dcm") if p.stat().st_size <= max_bytes)
        seeds.extend(p.read_bytes() for p in files[:per_source])
    note = "" if seeds else f"{SHARED_DATA} holds no DICOM file: real-file mutations skipped"
    return seeds, note


# --- Byte-level mutations ---------------------------------------------------------------------

def _elements(data: bytes) -> list[int]:
    """Offsets of element headers in an explicit-VR little-endian stream (a heuristic scan)."""
    offsets, i = [], 132
    while i + 8 <= len(data) and len(offsets) < 400:
        vr = data[i + 4:i + 6]
        if not (vr.isalpha() and vr.isupper()):
            break
        offsets.append(i)
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"OD", b"OL", b"UC", b"UR", b"OV"):
            length = struct.unpack_from("<I", data, i + 8)[0] if i + 12 <= len(data) else 0
            if length == 0xFFFFFFFF:
                break
            i += 12 + length
        else:
            i += 8 + struct.unpack_from("<H", data, i + 6)[0]
    return offsets


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, max(2, len(data) - 1))]


def flip_header_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    end = min(len(out), 2048)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(128, end)] ^= 1 << rng.randrange(8)
    return bytes(out)


def _random_element(rng: random.Random, data: bytes) -> tuple[int, bytearray] | None:
    """Pick one element header to damage; return its offset and a mutable copy, or None if none is found."""
    offsets = _elements(data)
    return (rng.choice(offsets), bytearray(data)) if offsets else None


def break_length(rng: random.Random, data: bytes) -> bytes:
    picked = _random_element(rng, data)
    if picked is None:
        return truncate(rng, data)
    i, out = picked
    if bytes(out[i + 4:i + 6]) in (b"OB", b"OW", b"SQ", b"UT", b"UN") and i + 12 <= len(out):
        struct.pack_into("<I", out, i + 8, rng.choice([0, 7, 0x7FFFFFFF, 0xFFFFFFFE, len(data) * 4]))
    else:
        struct.pack_into("<H", out, i + 6, rng.choice([0, 1, 3, 0x7FFF, 0xFFFF]))
    return bytes(out)


def wrong_vr(rng: random.Random, data: bytes) -> bytes:
    picked = _random_element(rng, data)
    if picked is None:
        return flip_header_bits(rng, data)
    i, out = picked
    out[i + 4:i + 6] = rng.choice([b"SQ", b"UN", b"OB", b"FD", b"AT", b"ZZ", b"\x00\x00"])
    return bytes(out)


def random_after_preamble(rng: random.Random, data: bytes) -> bytes:
    return PREAMBLE + rng.randbytes(rng.randrange(0, 4096))


def splice(rng: random.Random, data: bytes) -> bytes:
    """Overwrite a random stretch with random bytes (any part: meta, header, pixels)."""
    start = rng.randrange(0, len(data))
    length = rng.randrange(1, 64)
    return data[:start] + rng.randbytes(length) + data[start + length:]


BYTE_MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    truncate, flip_header_bits, break_length, wrong_vr, random_after_preamble, splice]


# --- Dataset-level mutations --------------------------------------------------------------------

def _save(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


REQUIRED = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Rows", "Columns", "BitsAllocated",
            "PhotometricInterpretation", "PixelSpacing", "ImageOrientationPatient", "Modality", "PixelData",
            "ImagePositionPatient", "RescaleSlope", "RescaleIntercept", "PixelRepresentation", "BitsStored")
BAD_VALUES: dict[str, list] = {
    "Rows": [65535, 0, 1, 15, 2049], "Columns": [65535, 0, 4096],
    "BitsAllocated": [0, 1, 7, 12, 64], "BitsStored": [0, 33], "HighBit": [99],
    "PixelSpacing": [[0, 0], [-1, 0.5], [0.5], [1, 2, 3], ["nan", "1"]],
    "ImageOrientationPatient": [[1, 0, 0], [0, 0, 0, 0, 0, 0], [1] * 7, ["inf"] * 6],
    "ImagePositionPatient": [[1, 2], ["nan", "nan", "nan"]],
    "SamplesPerPixel": [0, 3, 65535], "NumberOfFrames": ["0", "65535", "x"],
    "PhotometricInterpretation": ["RGB", "PALETTE COLOR", "", "MONOCHROME3"],
    "RescaleSlope": ["0", "nan", "1e308"], "RescaleIntercept": ["inf", "-1e308"],
    "SOPClassUID": ["1.2.3", "1.2.840.10008.5.1.4.1.1.4", ""],
    "InstanceNumber": ["-1", "99999999999"], "SliceThickness": ["-5", "nan"],
    "PatientName": ["x" * 5000, "\u00e9\u00e8\u4e2d"], "StudyDate": ["99999999", "2020"],
}


def drop_tag(rng: random.Random, ds: Dataset) -> Dataset:
    keyword = rng.choice([k for k in REQUIRED if k in ds])
    delattr(ds, keyword)
    return ds


def bad_value(rng: random.Random, ds: Dataset) -> Dataset:
    for keyword in rng.sample(sorted(BAD_VALUES), rng.randint(1, 3)):
        setattr(ds, keyword, rng.choice(BAD_VALUES[keyword]))
    return ds


def huge_dimensions(rng: random.Random, ds: Dataset) -> Dataset:
    ds.Rows = ds.Columns = 65535
    if rng.random() < 0.5:
        ds.PixelData = bytes(2 * 65535 * 65535 // 100_000)
    return ds


def short_pixels(rng: random.Random, ds: Dataset) -> Dataset:
    ds.PixelData = ds.PixelData[: rng.randrange(0, max(1, len(ds.PixelData)))]
    return ds


def bad_transfer_syntax(rng: random.Random, ds: Dataset) -> Dataset:
    ds.file_meta.TransferSyntaxUID = rng.choice(["1.2.3.4", RLELossless, "1.2.840.10008.1.2.4.50", "", "x"])
    return ds


def nested_sequences(rng: random.Random, ds: Dataset) -> Dataset:
    inner = Dataset()
    inner.CodeValue = "X"
    for _ in range(rng.randint(10, 60)):  # pydicom cannot write much deeper
        outer = Dataset()
        outer.ReferencedImageSequence = [inner]
        inner = outer
    ds.ReferencedImageSequence = [inner]
    return ds


DATASET_MUTATIONS: list[Callable[[random.Random, Dataset], Dataset]] = [
    drop_tag, bad_value, huge_dimensions, short_pixels, bad_transfer_syntax, nested_sequences]


def deflate_bomb(*, inflated_bytes: int) -> bytes:
    """A Deflated Explicit VR file whose dataset inflates to ``inflated_bytes`` (mostly pixel zeros)."""
    ds = bad.ct_dataset()
    del ds.PixelData
    plain = io.BytesIO()
    ds.save_as(plain, enforce_file_format=True)  # explicit VR little endian
    body = plain.getvalue()[132 + _meta_length(plain.getvalue()):]
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # An OW PixelData element whose value is inflated_bytes of zeros: ~1000x smaller deflated.
    chunks = [compressor.compress(body + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, inflated_bytes))]
    zeros = bytes(1024**2)
    chunks += [compressor.compress(zeros) for _ in range(inflated_bytes // len(zeros))]
    chunks.append(compressor.flush())
    return PREAMBLE + meta.getvalue() + b"".join(chunks)


def _meta_length(data: bytes) -> int:
    """Bytes of the file meta group after the preamble (its group length element + the rest)."""
    return 12 + struct.unpack_from("<I", data, 140)[0]


# --- Zip mutations -----------------------------------------------------------------------------

def nested_zip(rng: random.Random, seed: bytes) -> bytes:
    data = bad.zip_of({"slice.dcm": seed})
    for depth in range(rng.randint(1, 12)):
        data = bad.zip_of({f"level{depth}.zip": data})
    return data


def zip_bomb(rng: random.Random, seed: bytes) -> bytes:
    return bad.zip_of({"bomb.dcm": PREAMBLE + bytes(rng.choice([2, 8, 40]) * 1024**2)})


def corrupt_zip(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(bad.zip_of({"a.dcm": seed, "b.dcm": seed[::-1]}))
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(4, len(data))] ^= 0xFF
    return bytes(data) if rng.random() < 0.7 else bytes(data[: rng.randrange(4, len(data))])


def hostile_names_zip(rng: random.Random, seed: bytes) -> bytes:
    names = ["../../etc/x.dcm", "/abs.dcm", "C:\\win.dcm", "a/../../b.dcm", "ctrl\x01char.dcm", "x" * 300 + ".dcm", "__MACOSX/._a.dcm"]
    return bad.zip_of({name: seed for name in rng.sample(names, 3)})


def many_empty_entries_zip(rng: random.Random, seed: bytes) -> bytes:
    return bad.zip_of({f"e{i}.dcm": b"" for i in range(rng.randint(2, 200))}, compression=zipfile.ZIP_STORED)


ZIP_MUTATIONS = [nested_zip, zip_bomb, corrupt_zip, hostile_names_zip, many_empty_entries_zip]


# --- The corpus ----------------------------------------------------------------------------------

def fixed_cases() -> Iterator[Case]:
    yield Case("zero_bytes.dcm", b"", "zero_bytes")
    yield Case("preamble_only.dcm", PREAMBLE, "preamble_only")
    yield Case("deflate_bomb.dcm", deflate_bomb(inflated_bytes=256 * 1024**2), "deflate_bomb")
    for name, data in bad.bad_inputs().items():
        yield Case(name, data, f"known:{name.removesuffix('.dcm')}")


def generate(*, count: int = DEFAULT_COUNT, seed: int = 1729, with_real: bool = True) -> tuple[list[Case], str]:
    """Return ``count`` (at least) cases and a note about skipped sources."""
    rng = random.Random(seed)
    seeds = phantom_seeds() + [bad.ct_slice(size_px=32), bad.ct_slice(size_px=16)]
    note = ""
    if with_real:
        real, note = real_seeds()
        seeds += real
    cases = list(fixed_cases())
    while len(cases) < count:
        source = rng.choice(seeds)
        n = len(cases)
        roll = rng.random()
        if roll < 0.45:
            mutate = rng.choice(BYTE_MUTATIONS)
            cases.append(Case(f"m{n:05d}.dcm", mutate(rng, source), mutate.__name__))
        elif roll < 0.9:
            mutate = rng.choice(DATASET_MUTATIONS)
            try:
                ds = dcmread(io.BytesIO(source))
                ds.PixelData  # loaded now, before mutations change how it would be read
                cases.append(Case(f"m{n:05d}.dcm", _save(mutate(rng, ds)), mutate.__name__))
            except Exception:  # a mutation pydicom itself refuses to write: try another
                continue
        else:
            mutate = rng.choice(ZIP_MUTATIONS)
            cases.append(Case(f"m{n:05d}.zip", mutate(rng, source), mutate.__name__))
    return cases, note


def main(argv: list[str]) -> None:
    out = Path(argv[0] if argv else "fuzz-corpus")
    out.mkdir(parents=True, exist_ok=True)
    cases, note = generate(count=int(argv[1]) if len(argv) > 1 else DEFAULT_COUNT)
    for case in cases:
        (out / case.name).write_bytes(case.data)
    print(f"wrote {len(cases)} files to {out}" + (f" ({note})" if note else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
