from django.core.management.base import BaseCommand, CommandParser

from monolith.demo import seeding


class Command(BaseCommand):
    help = (
        "Create demo and benchmark data: an admin (admin/admin), users user0001.. "
        f"(password {seeding.DEMO_PASSWORD}) and products SKU-0001.. with stock. "
        "Idempotent: existing rows are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=10, help="demo users (default 10)")
        parser.add_argument("--products", type=int, default=20, help="products (default 20)")
        parser.add_argument(
            "--stock",
            type=int,
            default=100,
            help="units of each new product (default 100)",
        )

    def handle(
        self, *args: object, users: int, products: int, stock: int, **options: object
    ) -> None:
        for name, value in (("--users", users), ("--products", products), ("--stock", stock)):
            if value < 0 or value > 1_000_000:
                self.stderr.write(f"{name} must be between 0 and 1000000, got {value}")
                raise SystemExit(2)
        report = seeding.seed(users=users, products=products, stock=stock)
        self.stdout.write(
            f"seed: {report.users_created} users and {report.products_created} products created "
            f"(asked for {users} users, {products} products); admin login: "
            f"{seeding.ADMIN_USERNAME} / {seeding.ADMIN_PASSWORD}"
        )
