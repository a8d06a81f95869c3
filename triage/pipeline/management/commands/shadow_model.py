"""Shadow mode from the command line: mark a candidate, compare it on PCR outcomes, promote it.

    manage.py shadow_model mark NAME/VERSION --user ADMIN [--hospital CODE]
    manage.py shadow_model compare NAME/VERSION --user ADMIN [--hospital CODE]
    manage.py shadow_model promote NAME/VERSION --user ADMIN [--reanalyse] [--yes]

``promote`` prints the comparison first and changes nothing without ``--yes``.
"""
import json

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from triage.accounts.models import Hospital, User
from triage.core.exceptions import DomainError
from triage.monitoring.shadow import candidate_comparison
from triage.pipeline.services import promote_candidate
from triage.results.models import Candidate
from triage.results.services import mark_candidate


def _summary(evidence: dict) -> str:
    if not evidence["n"]:
        return f"{evidence['candidate']}: no PCR-labelled study has both results yet"
    auc = evidence["difference"]["auc"]
    lines = [f"{evidence['candidate']} vs {', '.join(evidence['shown_models'])} on {evidence['n']} PCR-labelled "
             f"studies ({evidence['hospital']}), threshold {evidence['threshold']}",
             f"AUC difference (candidate - shown) {auc['value']} (paired 95 % CI {auc['ci95']})", f"kappa {evidence['kappa']}"]
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        lines.append(f"{name}: shown {evidence['a'][name]['value']}  candidate {evidence['b'][name]['value']}")
    lines.append(f"disagreeing studies: {evidence['disagreeing_studies']}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Mark a model version as shadow candidate, compare it with the shown model on PCR outcomes, promote it."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("mark", "compare", "promote"))
        parser.add_argument("reference", help="NAME/VERSION under inference/weights")
        parser.add_argument("--user", required=True, help="username of the admin (audited)")
        parser.add_argument("--hospital", help="hospital code (default: every hospital)")
        parser.add_argument("--reanalyse", action="store_true", help="promote: re-queue ready studies")
        parser.add_argument("--yes", action="store_true", help="promote: do it after showing the evidence")
        parser.add_argument("--json", action="store_true", help="compare: print the evidence as JSON")

    def handle(self, *args, action, reference, user, hospital, reanalyse, yes, **options):
        actor = User.objects.filter(username=user, is_active=True).first()
        scope = Hospital.objects.filter(code=hospital).first() if hospital else None
        if actor is None or (hospital and scope is None):
            raise CommandError(f"No active user {user!r}." if actor is None else f"No hospital with code {hospital!r}.")
        try:
            if action == "mark":
                candidate = mark_candidate(actor=actor, reference=reference, hospital=scope)
                self.stdout.write(f"{candidate} runs in shadow on new studies")
                return
            name, _, version = reference.partition("/")
            candidate = (Candidate.objects.filter(model_version__name=name, model_version__version=version,
                                                  hospital=scope, ended_at__isnull=True).first())
            if candidate is None:
                raise CommandError(f"{reference} is not an open candidate for {hospital or 'all hospitals'}.")
            evidence = candidate_comparison(user=actor, candidate=candidate)
            self.stdout.write(json.dumps(evidence) if options["json"] else _summary(evidence))
            if action == "promote":
                if not yes:
                    self.stdout.write("Nothing changed: add --yes to promote on this evidence.")
                    return
                promoted = promote_candidate(actor=actor, candidate_uuid=candidate.uuid, evidence=evidence,
                                             reanalyse=reanalyse)
                self.stdout.write(f"{promoted} is now the active model")
        except (PermissionDenied, DomainError) as error:
            raise CommandError(str(getattr(error, "message", error))) from error
