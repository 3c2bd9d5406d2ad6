/* Aligned text tables with a header row, for ps and pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbctl.h"
#include "xmalloc.h"

struct sbctl_table {
	int		 ncols;
	size_t		 nrows;		/* the header included */
	char		**cells;	/* nrows * ncols, owned */
};

/* A table with its header row. */
struct sbctl_table *
sbctl_table_new(int ncols, const char *const *headers)
{
	struct sbctl_table	*t = xcalloc(1, sizeof *t);
	char			**row = xcalloc((size_t)ncols, sizeof *row);
	int			 i;

	t->ncols = ncols;
	for (i = 0; i < ncols; i++)
		row[i] = xstrdup(headers[i]);
	sbctl_table_add(t, row);
	free(row);
	return t;
}

/* Appends a row; takes the ncols strings (not the array). */
void
sbctl_table_add(struct sbctl_table *t, char **cells)
{
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * (size_t)t->ncols,
	    sizeof *t->cells);
	memcpy(t->cells + t->nrows * (size_t)t->ncols, cells,
	    (size_t)t->ncols * sizeof *cells);
	t->nrows++;
}

/* Prints the rows padded to the column widths, the last unpadded. */
void
sbctl_table_print(struct sbctl_table *t, FILE *f)
{
	size_t	*width = xcalloc((size_t)t->ncols, sizeof *width), r;
	int	 c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if (strlen(t->cells[r * (size_t)t->ncols + (size_t)c]) >
			    width[c])
				width[c] = strlen(t->cells[r *
				    (size_t)t->ncols + (size_t)c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols - 1; c++)
			fprintf(f, "%-*s  ", (int)width[c],
			    t->cells[r * (size_t)t->ncols + (size_t)c]);
		fprintf(f, "%s\n", t->cells[r * (size_t)t->ncols +
		    (size_t)t->ncols - 1]);
	}
	free(width);
}

/* Frees the table and its strings. */
void
sbctl_table_free(struct sbctl_table *t)
{
	size_t	 i;

	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
