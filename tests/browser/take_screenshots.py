"""Take the README's screenshots from a running embedded demo (``triage/scripts/run.sh``), each role in turn.

The demo uploads the real CT series it ships (``triage/pipeline/demo_data/Lung_Dx-A0002``, CC BY 4.0)
beside its phantoms; wait until the worker has analysed it, then::

    TRIAGE_VAR_DIR=<the demo's var dir> .venv/bin/python -m tests.browser.take_screenshots \\
        --base http://127.0.0.1:8000 --log <the demo's output, with the passwords> --out docs/images

The viewer, report and upload shots use that real series (the study whose Patient ID is not a phantom's;
the upload page sends its files again, so the results are the duplicates of a study already analysed).
Each page is shot 1280 px wide and stored as a 256-colour PNG, so the README's images stay small.
"""
import argparse
import os
import re
from pathlib import Path

from PIL import Image

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in

WIDTH, HEIGHT = 1280, 860
DEMO_SERIES = Path(__file__).resolve().parents[2] / "triage" / "pipeline" / "demo_data" / "Lung_Dx-A0002"


def credentials(log: Path) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+\.\w+)\s+(\S+)\s+\(", log.read_text(), flags=re.M))


def real_study_uuid() -> str:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "triage.settings")
    django.setup()
    from triage.studies.models import Study

    study = (Study.objects.filter(hospital__code="north", status=Study.Status.READY)
             .exclude(patient_id__startswith="DEMO-").order_by("received_at").first())
    if study is None:
        raise SystemExit("No analysed real-CT study at the north hospital yet: wait for the demo's worker.")
    return str(study.uuid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    passwords, study = credentials(args.log), real_study_uuid()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def session(username: str, width: int = WIDTH, height: int = HEIGHT):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            sign_in(page, args.base, username, passwords[username])
            return context, page

        def shot(page, name: str, full_page: bool = False, section: str | None = None,
                 max_height: int | None = None) -> None:
            """Shoot the viewport, the whole page, or one ``section`` (a selector) of it, cut at ``max_height``."""
            path = args.out / f"{name}.png"
            if section:
                page.locator(section).screenshot(path=str(path))
            else:
                page.screenshot(path=str(path), full_page=full_page)
            # A palette keeps a UI page with a grey CT on it legible at a tenth of the RGB file's size.
            image = Image.open(path).convert("RGB")
            image = image.crop((0, 0, image.width, min(image.height, max_height or image.height)))
            image.quantize(colors=256).save(path, optimize=True)
            print(path, f"{path.stat().st_size // 1024} kB")

        context, page = session("platform.admin")
        shot(page, "home-platform-admin")
        context.close()

        context, page = session("radiologist.north")
        page.goto(f"{args.base}/worklist/")
        shot(page, "worklist")
        page.goto(f"{args.base}/studies/{study}/view/")
        page.wait_for_function("viewerStats.loaded === viewerStats.count")
        page.check("#toggle-lesion")  # the lesion-feature model has no heatmap: the outline is its explanation
        page.wait_for_timeout(500)
        shot(page, "viewer")
        page.goto(f"{args.base}/studies/upload/")
        page.get_by_label("Choose files…").set_input_files(sorted(str(f) for f in DEMO_SERIES.glob("*.dcm")))
        page.click("#upload-submit")
        page.wait_for_selector("#upload-studies li", timeout=60_000)
        page.wait_for_timeout(1000)
        shot(page, "upload")
        context.close()

        context, page = session("radiologist.north", width=1024, height=768)
        page.goto(f"{args.base}/worklist/")
        shot(page, "worklist-1024", full_page=False)
        page.goto(f"{args.base}/studies/{study}/view/")
        page.wait_for_function("viewerStats.firstImageMs !== null")
        page.keyboard.press("m")
        shot(page, "viewer-1024-mediastinal", full_page=False)
        context.close()

        context, page = session("clinician.north")
        page.goto(f"{args.base}/studies/{study}/report/")
        shot(page, "report")
        # An element shot scrolls to it, but lazy key images next to it might still be loading.
        page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
        page.wait_for_function("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
        shot(page, "report-key-images", section="section[aria-labelledby=images-heading]",
             max_height=440)  # the first row: CT texture is what makes a PNG large
        page.goto(f"{args.base}/reports/")
        shot(page, "reports-list")
        context.close()

        context, page = session("admin.north")
        page.click("header nav >> text=Administration")
        shot(page, "administration")
        page.click("text=Audit log")
        page.fill("#id_action", "study.")
        page.click("form.audit-filters button")
        shot(page, "audit-log", full_page=False)
        page.click("header nav >> text=Monitoring")
        shot(page, "monitoring")
        context.close()
        browser.close()


if __name__ == "__main__":
    main()
