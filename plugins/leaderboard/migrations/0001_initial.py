from tortoise import migrations

from mengchong.storage.checks import add_check
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('core', '0001_initial'), ('core', '0002_accounts_economy'), ('core', '0003_processed_events')]

    initial = True

    operations = [
        ops.CreateModel(
            name='FriendInvite',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('inviter', fields.ForeignKeyField('core.User', source_field='inviter_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'friend_invites', 'app': 'leaderboard', 'pk_attr': 'id', 'table_description': 'A short code a user shares (a share card): whoever accepts it before ``expires_at``'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Friendship',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('core.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('friend', fields.ForeignKeyField('core.User', source_field='friend_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'friendships', 'app': 'leaderboard', 'unique_together': (('user', 'friend'),), 'pk_attr': 'id', 'table_description': 'One direction of a friendship: every friendship is two rows, (a, b) and (b, a), written'},
            bases=['Model'],
        ),
        add_check("friendships", "friendships_not_oneself", "{user_id} <> {friend_id}", "user_id", "friend_id"),
    ]
