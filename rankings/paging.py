"""Pages of a ranking without counting it separately."""

from evaluations.tables import BoundedPaginator

MAX_OFFSET = 2**63 - 1  # OFFSET is a 64-bit integer on SQLite and PostgreSQL


class RankedPaginator(BoundedPaginator):
    """Takes the number of rows from the page's own rows instead of a COUNT query.

    Counting a ranking means computing it again, which doubled the time of every page. Ranked QuerySets carry
    `rows_total`, a window count over all their rows (`RankingQuerySet.ranked`), so the page's first row knows it.
    A page past the end has no rows to ask: it falls back to counting, and then to Django's usual errors.
    """

    def page(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            return super().page(number)
        # A page whose offset the database cannot take (page=10**30) goes the usual way: counted, then EmptyPage.
        if number >= 1 and number * self.per_page <= MAX_OFFSET:
            bottom = (number - 1) * self.per_page
            rows = list(self.object_list[bottom : bottom + self.per_page])
            if rows:
                first = getattr(rows[0], "record", rows[0])  # django-tables2 hands over bound rows
                self.__dict__["count"] = first.rows_total  # Paginator.count is a cached property
                return self._get_page(rows, number, self)
        return super().page(number)
