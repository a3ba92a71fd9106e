# Limits on free text and amounts that cannot be negative: validation only, no change in the database.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0006_same_firm_links_to_users'),
    ]

    operations = [
        migrations.AlterField(
            model_name='activity',
            name='body',
            field=models.TextField(blank=True, max_length=20000),
        ),
        migrations.AlterField(
            model_name='contact',
            name='annual_income',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=16, null=True, validators=[django.core.validators.MinValueValidator(0, 'Annual income cannot be negative.')]),
        ),
        migrations.AlterField(
            model_name='contact',
            name='liquid_net_worth',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=16, null=True, validators=[django.core.validators.MinValueValidator(0, 'Liquid net worth cannot be negative.')]),
        ),
        migrations.AlterField(
            model_name='contact',
            name='net_worth',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=16, null=True, validators=[django.core.validators.MinValueValidator(0, 'Net worth cannot be negative.')]),
        ),
        migrations.AlterField(
            model_name='contact',
            name='notes',
            field=models.TextField(blank=True, max_length=20000),
        ),
    ]
