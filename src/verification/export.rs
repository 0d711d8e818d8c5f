//! The research team's CSV files for a round: the mail merge (LA, contact role, link, expiry;
//! made only when links are issued, since tokens are never stored), the status of every
//! invitation, and the reminder list of LAs that have not answered. No file holds a name or an
//! email address; no cell starts a spreadsheet formula.

use crate::compare::safe;
use crate::dataset::Dataset;

use super::{Campaign, Invitation};

/// One issued link, as the mail merge lists it.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    /// LA code.
    pub la_code: String,
    /// The link.
    pub link: String,
    /// When it stops working (RFC 3339 UTC).
    pub expires_at: String,
}

fn la_name<'a>(ds: &'a Dataset, code: &str) -> &'a str {
    ds.la_index(code).map_or("", |i| ds.las[i].name.as_str())
}

fn write(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r.iter().map(|c| safe(c)));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn day(t: &str) -> String {
    t.get(..10).unwrap_or(t).to_owned()
}

/// `la_code, la_name, contact_role, link, expires` (the date the link stops working).
#[must_use]
pub fn mail_merge(ds: &Dataset, campaign: &Campaign, links: &[IssuedLink]) -> String {
    write(
        &["la_code", "la_name", "contact_role", "link", "expires"],
        links.iter().map(|l| {
            vec![
                l.la_code.clone(),
                la_name(ds, &l.la_code).to_owned(),
                campaign.contact_role.clone(),
                l.link.clone(),
                day(&l.expires_at),
            ]
        }),
    )
}

/// Every invitation of a campaign with its status and dates at `now`.
#[must_use]
pub fn status(ds: &Dataset, invitations: &[Invitation], now: &str) -> String {
    write(
        &[
            "la_code",
            "la_name",
            "status",
            "status_date",
            "invited",
            "opened",
            "responded",
            "settled",
            "expires",
            "response",
            "mail",
        ],
        invitations.iter().map(|i| {
            let opt = |o: &Option<String>| o.as_deref().map(day).unwrap_or_default();
            vec![
                i.la_code.clone(),
                la_name(ds, &i.la_code).to_owned(),
                i.status(now).as_str().to_owned(),
                day(i.status_date(now)),
                day(&i.invited_at),
                opt(&i.opened_at),
                opt(&i.responded_at),
                opt(&i.settled_at),
                day(&i.expires_at),
                i.response_id.map(super::reference).unwrap_or_default(),
                i.mail_status.as_str().to_owned(),
            ]
        }),
    )
}

/// The LAs that have not answered (invited, opened or expired), for a reminder.
#[must_use]
pub fn reminders(
    ds: &Dataset,
    campaign: &Campaign,
    invitations: &[Invitation],
    now: &str,
) -> String {
    write(
        &[
            "la_code",
            "la_name",
            "contact_role",
            "status",
            "invited",
            "opened",
            "expires",
        ],
        invitations
            .iter()
            .filter(|i| i.status(now).awaits_answer())
            .map(|i| {
                vec![
                    i.la_code.clone(),
                    la_name(ds, &i.la_code).to_owned(),
                    campaign.contact_role.clone(),
                    i.status(now).as_str().to_owned(),
                    day(&i.invited_at),
                    i.opened_at.as_deref().map(day).unwrap_or_default(),
                    day(&i.expires_at),
                ]
            }),
    )
}
