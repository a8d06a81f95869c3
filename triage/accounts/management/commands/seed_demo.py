from django.core.management.base import BaseCommand

from triage.accounts.demo import seed_demo_accounts


class Command(BaseCommand):
    help = "Create the demo hospitals and users and print their (fresh, random) credentials."

    def handle(self, *args, **options):
        hospitals, credentials = seed_demo_accounts()
        self.stdout.write(self.style.SUCCESS(f"Demo hospitals: {', '.join(h.name for h in hospitals)}"))
        width = max(len(c.username) for c in credentials)
        self.stdout.write("Sign in at http://127.0.0.1:8000/ with:")
        for c in credentials:
            self.stdout.write(f"  {c.username:<{width}}  {c.password}  ({c.description})")
