"""`in` on integer columns: values outside the column's range match nothing.

Django already treats exact and comparison lookups this way (`IntegerFieldOverflow`), but not `in`: on SQLite an id
of 2**63 from a query string (`?model=9223372036854775808`, which multiple-choice form fields look up with
`pk__in`) is an OverflowError, a 500. Registered for every IntegerField, ids included, by `EvaluationsConfig.ready`.
"""

from django.db.models.lookups import In


class IntegerFieldIn(In):
    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            low, high = connection.ops.integer_field_range(self.lhs.output_field.get_internal_type())
            self.rhs = [value for value in self.rhs if not _outside(value, low, high)]
        return super().process_rhs(compiler, connection)


def _outside(value, low: int | None, high: int | None) -> bool:
    return isinstance(value, int) and ((low is not None and value < low) or (high is not None and value > high))
