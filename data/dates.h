/* Civil dates as days since 1970-01-01, proleptic Gregorian (H. Hinnant's
 * algorithms), the unit of every date column. */
#ifndef DR_DATA_DATES_H
#define DR_DATA_DATES_H

long dr_days_from_civil(long year, int month, int day);
/* The inverse: year, month (1-12), day (1-31) of the day containing days. */
void dr_date_from_days(double days, int *year, int *month, int *day);

#endif
