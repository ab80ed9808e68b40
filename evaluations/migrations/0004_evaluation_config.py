import django.db.models.deletion
from django.db import migrations, models

from evaluations.results import config_digest

BATCH = 2000


def share_configs(apps, schema_editor):
    """Store each distinct config of the existing evaluations once and point the evaluations at it.

    In batches of evaluations by id, so that memory stays flat however many there are; the digests are the ones
    `evaluations.results` computes, so configs recorded later find these rows.
    """
    Evaluation = apps.get_model("evaluations", "Evaluation")
    EvaluationConfig = apps.get_model("evaluations", "EvaluationConfig")
    last = 0
    while batch := list(
        Evaluation.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "config")[:BATCH]
    ):
        last = batch[-1][0]
        by_digest: dict[str, list[int]] = {}
        configs = {}
        for pk, config in batch:
            if config:
                digest = config_digest(config)
                configs[digest] = config
                by_digest.setdefault(digest, []).append(pk)
        rows = {row.digest: row for row in EvaluationConfig.objects.filter(digest__in=configs)}
        EvaluationConfig.objects.bulk_create(
            EvaluationConfig(digest=digest, data=config) for digest, config in configs.items() if digest not in rows
        )
        rows = {row.digest: row.pk for row in EvaluationConfig.objects.filter(digest__in=configs)}
        for digest, pks in by_digest.items():
            Evaluation.objects.filter(pk__in=pks).update(run_config=rows[digest])
    _check_foreign_keys_now(schema_editor)


def copy_configs_back(apps, schema_editor):
    Evaluation = apps.get_model("evaluations", "Evaluation")
    EvaluationConfig = apps.get_model("evaluations", "EvaluationConfig")
    for row in EvaluationConfig.objects.iterator(chunk_size=BATCH):
        Evaluation.objects.filter(run_config=row).update(config=row.data)
    _check_foreign_keys_now(schema_editor)


def _check_foreign_keys_now(schema_editor):
    # PostgreSQL checks foreign keys at commit, and refuses to alter a table with checks pending ("pending trigger
    # events"), which the column removal that follows in this transaction does.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0003_score_values_in_rankable_range"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluationConfig",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(editable=False, max_length=64, unique=True)),
                ("data", models.JSONField(default=dict)),
            ],
            options={"verbose_name": "evaluation config"},
        ),
        migrations.AddField(
            model_name="evaluation",
            name="run_config",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="evaluations",
                to="evaluations.evaluationconfig",
            ),
        ),
        migrations.RunPython(share_configs, copy_configs_back, elidable=True),
        migrations.RemoveField(model_name="evaluation", name="config"),
    ]
