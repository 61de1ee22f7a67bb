"""API tokens get a name, and a person may hold several (issue 11): the one-per-user link becomes a
foreign key, and tokens issued before are called "API token"."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0007_fair_use_usage_and_waiting"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(name="apitoken", options={"ordering": ["-created", "-id"]}),
        migrations.AddField(
            model_name="apitoken",
            name="name",
            field=models.CharField(
                default="API token", help_text="what the token is for, chosen by its owner", max_length=100
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens", to=settings.AUTH_USER_MODEL
            ),
        ),
    ]
