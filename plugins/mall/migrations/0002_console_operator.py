from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_accounts_economy'), ('core', '0003_processed_events'), ('mall', '0001_initial')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='AdminLog',
            options={'table': 'mall_admin_log', 'app': 'mall', 'pk_attr': 'id', 'table_description': "An admin's write to the catalog: who (an admin user through the API, or a console operator"},
        ),
        ops.AlterField(
            model_name='AdminLog',
            name='admin',
            field=fields.ForeignKeyField('core.User', source_field='admin_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='AdminLog',
            name='operator',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
