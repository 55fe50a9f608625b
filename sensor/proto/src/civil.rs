//! Civil dates of the proleptic Gregorian calendar as day counts since
//! 1970-01-01, both ways, by era arithmetic (400-year cycles of 146,097 days,
//! each year counted from March so that the leap day is the last of its year):
//! constant time, no tables, any `i64` day a calendar year fits in.

/// Days in a 400-year era.
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 (the start of era 0) to 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// Days since 1970-01-01 of `year`-`month`-`day` (month 1–12, day 1–31;
/// negative before 1970). The date is not checked: February 30 is March 1 or
/// 2, as the arithmetic falls.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Years start in March: January and February belong to the year before.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    // Months counted from March = 0.
    let m = i64::from((month + 9) % 12);
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - EPOCH_SHIFT
}

/// The civil date `(year, month 1–12, day 1–31)` of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(DAYS_PER_ERA);
    let day_of_era = z.rem_euclid(DAYS_PER_ERA);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March = 0.
    let m = (5 * day_of_year + 2) / 153;
    // Both are small and positive: day 1–31, month 1–12.
    let day = (day_of_year - (153 * m + 2) / 5 + 1) as u32;
    let month = if m < 10 { m + 3 } else { m - 9 } as u32;
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates with their day numbers, counted independently (`date -u -d
    /// DATE +%s` divided by 86,400).
    const KNOWN: [((i64, u32, u32), i64); 10] = [
        ((1970, 1, 1), 0),
        ((1969, 12, 31), -1),
        ((1970, 3, 1), 59),
        ((2000, 2, 29), 11_016),
        ((2000, 3, 1), 11_017),
        ((2024, 5, 1), 19_844),
        ((2026, 11, 28), 20_785),
        ((2100, 3, 1), 47_541),
        ((1900, 1, 1), -25_567),
        ((1600, 2, 29), -135_081),
    ];

    #[test]
    fn known_dates() {
        for (date, days) in KNOWN {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
            assert_eq!(civil_from_days(days), date, "{days}");
        }
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        let length = |y: i64| days_from_civil(y + 1, 1, 1) - days_from_civil(y, 1, 1);
        assert_eq!(length(2023), 365);
        assert_eq!(length(2024), 366);
        // Centuries are leap years only when divisible by 400.
        assert_eq!(length(1900), 365);
        assert_eq!(length(2000), 366);
        assert_eq!(length(2100), 365);
        assert_eq!(
            civil_from_days(days_from_civil(2100, 2, 28) + 1),
            (2100, 3, 1)
        );
    }

    #[test]
    fn every_day_of_two_eras_round_trips_in_order() {
        // 1600-03-01 to 2400-02-29, across negative and positive day counts.
        let first = days_from_civil(1600, 3, 1);
        let mut prev = civil_from_days(first - 1);
        for days in first..first + 2 * DAYS_PER_ERA {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{days}");
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            let next_day = (y, m, d) == (prev.0, prev.1, prev.2 + 1);
            let next_month = d == 1 && (y, m) == (prev.0, prev.1 + 1);
            let next_year = (m, d) == (1, 1) && y == prev.0 + 1 && prev.1 == 12;
            assert!(
                next_day || next_month || next_year,
                "{prev:?} then {y}-{m}-{d}"
            );
            prev = (y, m, d);
        }
        assert_eq!(prev, (2400, 2, 29));
    }
}
