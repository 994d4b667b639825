//! rallypoint's benches against its peers: the bench targets of this
//! package (`cargo bench -p rallypoint-benches`), results in BENCHMARKS.md.
//! The library itself is empty; the benches share `common/`.
