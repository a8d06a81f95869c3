"""Take the README's screenshots from a running embedded demo (``triage/scripts/run.sh``), each role in turn.

Run the demo with ``../shared/data`` present (it then uploads a real CT series), wait until its studies
are analysed, then::

    TRIAGE_VAR_DIR=<the demo's var dir> .venv/bin/python -m tests.browser.take_screenshots \\
        --base http://127.0.0.1:8000 --log <the demo's output, with the passwords> --out docs/images

The viewer and report shots use the real series (the study whose Patient ID is not a phantom's).
"""
import argparse
import os
import re
from pathlib import Path

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in


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

        def session(username: str, width: int = 1400, height: int = 900):
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            sign_in(page, args.base, username, passwords[username])
            return context, page

        def shot(page, name: str, full_page: bool = True) -> None:
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=full_page)
            print(args.out / f"{name}.png")

        context, page = session("platform.admin")
        shot(page, "home-platform-admin")
        context.close()

        context, page = session("radiologist.north")
        page.goto(f"{args.base}/worklist/")
        shot(page, "worklist")
        page.goto(f"{args.base}/studies/{study}/view/")
        page.wait_for_function("viewerStats.loaded === viewerStats.count")
        page.check("#toggle-lesion")
        page.check("#toggle-gradcam")
        page.wait_for_timeout(500)
        shot(page, "viewer", full_page=False)
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
