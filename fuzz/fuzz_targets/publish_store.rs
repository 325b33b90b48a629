//! What `report --publish` reads back from a dataset: a stored unit
//! release (which a copy or an editor may have changed) and a ledger. A
//! unit that parses must assemble without a panic, in any time zone.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = exitflow_analyze::publish::units::UnitRelease::parse(data) {
        for tz in [0, -690, 840] {
            let a = exitflow_analyze::publish::assemble::assemble(&[(&u, tz), (&u, 0)]);
            std::hint::black_box(a.tables());
        }
    }
    let _ = serde_json::from_slice::<exitflow_analyze::publish::store::Ledger>(data);
});
