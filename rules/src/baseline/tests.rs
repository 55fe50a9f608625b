use super::*;

#[test]
fn ranges_merge_what_overlaps_or_touches_and_stay_bounded() {
    let mut r = Ranges::default();
    r.insert(100, 109, 8);
    r.insert(110, 119, 8);
    r.insert(0, 9, 8);
    r.insert(105, 105, 8);
    assert_eq!(r.as_slice(), &[(0, 9), (100, 119)]);
    assert!(r.contains(100, 119) && r.contains(5, 5));
    assert!(!r.contains(9, 100) && !r.contains(120, 120) && !r.contains(10, 10));
    // Beyond the cap, the closest two are merged.
    r.insert(200, 200, 3);
    r.insert(1000, 1000, 3);
    assert_eq!(r.as_slice(), &[(0, 9), (100, 200), (1000, 1000)]);
    assert_eq!(r.to_string(), "0-9, 100-200, 1000");
}
