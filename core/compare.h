/* qsort comparators. */
#ifndef DR_CORE_COMPARE_H
#define DR_CORE_COMPARE_H

/* Ascending floats (no NaN among them). */
static inline int dr_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

#endif
