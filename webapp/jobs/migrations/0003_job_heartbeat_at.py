from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0002_score_uncertainty_job_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True,
                help_text=(
                    "Last sign of life: beaten by the worker while the job runs, set when (re)enqueued."
                ),
                null=True,
            ),
        ),
    ]
