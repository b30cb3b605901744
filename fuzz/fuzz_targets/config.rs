//! `Config::parse` (TOML plus validation) on arbitrary text, then the accessors of a config
//! that passed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matthan::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    config
        .validate()
        .expect("a config that parsed validates again");
    assert!(config.analysis.fps > 0.0 && config.analysis.fps <= 60.0);
    assert!(config.storage.segment_len_sec >= 2);
    let _ = config.storage.clips_dir();
    let _ = config.storage.snapshots_dir();
    for camera in &config.cameras {
        // Names are unique, so looking one up finds that very camera.
        let found = config.camera(&camera.name).expect("camera by its name");
        assert!(std::ptr::eq(found, camera));
        if let Some(junction) = &camera.junction {
            assert!(config.junctions.iter().any(|j| &j.name == junction));
        }
    }
});
