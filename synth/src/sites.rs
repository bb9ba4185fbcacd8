//! The plants workers are posted to.
//!
//! A fixed catalogue rather than a random one: eight sites of three employers across MH, KA, TN
//! and DL cover every state rule of the policy (MH and KA professional tax and LWF, none
//! elsewhere) and both weekly offs, whatever the seed.

use std::io::{self, Write};
use std::path::Path;

use chrono::Weekday;

use crate::encode::create_feed;

pub struct Site {
    pub id: &'static str,
    pub org: &'static str,
    pub name: &'static str,
    pub state: &'static str,
    pub weekly_off: Weekday,
    /// Relative headcount, because real plants differ in size.
    pub headcount_weight: u32,
}

pub const TIMEZONE: &str = "Asia/Kolkata";

pub const SITES: [Site; 8] = [
    site("S00", "org0", "Pune Assembly Plant", "MH", Weekday::Sun, 20),
    site("S01", "org0", "Bengaluru Components Plant", "KA", Weekday::Sun, 15),
    site("S02", "org0", "Chennai Forge", "TN", Weekday::Sun, 10),
    site("S10", "org1", "Nashik Packaging Unit", "MH", Weekday::Sat, 12),
    site("S11", "org1", "Mysuru Textiles Mill", "KA", Weekday::Sat, 15),
    site("S12", "org1", "Okhla Warehouse", "DL", Weekday::Sun, 10),
    site("S20", "org2", "Hosur Electronics Plant", "TN", Weekday::Sat, 10),
    site("S21", "org2", "Naraina Print Works", "DL", Weekday::Sun, 8),
];

const fn site(
    id: &'static str,
    org: &'static str,
    name: &'static str,
    state: &'static str,
    weekly_off: Weekday,
    headcount_weight: u32,
) -> Site {
    Site {
        id,
        org,
        name,
        state,
        weekly_off,
        headcount_weight,
    }
}

pub fn write_sites(path: &Path) -> io::Result<usize> {
    let mut out = create_feed(path)?;
    writeln!(out, "site_id,org_id,name,state,timezone,weekly_off")?;
    for site in &SITES {
        let off = site.weekly_off.to_string().to_uppercase();
        writeln!(
            out,
            "{},{},{},{},{TIMEZONE},{off}",
            site.id, site.org, site.name, site.state
        )?;
    }
    out.flush()?;
    Ok(SITES.len())
}
