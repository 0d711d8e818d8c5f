//! Rules of the API that depend on the data or span several fields, stated in the OpenAPI
//! document so that a client (or Schemathesis) that keeps to the document sends only requests
//! the server accepts: the corrections form's schema (LA codes, each LA's partnerships, kinds,
//! lengths, consent), and the links between operations that hand an id on (a published change
//! to its page and its undo, a submission to its review, a campaign to its parts).

use utoipa::openapi::schema::{
    AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};

use crate::dataset::Dataset;
use crate::submission::{CONSENT_WORDS, KINDS, MAX_EMAIL, MAX_MESSAGE, MAX_SHORT};

/// A string the server trims before it checks it: `pattern` (ECMA-262, unanchored) and
/// `max_len` (characters as sent, spaces too).
fn text(pattern: Option<&str>, max_len: usize, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(pattern)
        .max_length(Some(max_len))
        .description(Some(description))
}

fn one_of_strings<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            values
                .into_iter()
                .map(|v| serde_json::Value::String(v.into())),
        ))
}

/// Schema of `POST /api/submissions` and `POST /contribute` (JSON and form-encoded alike),
/// exactly what `submission::validate` accepts: every field it requires, its lengths, the
/// LA codes served, and, per LA, the partnerships listed in it (`oneOf` by `la`); a
/// verification (`kind`) names the LA verifying in `organisation` (the second `oneOf`).
#[must_use]
pub fn submission_schema(ds: &Dataset) -> Schema {
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let consent: Vec<serde_json::Value> = std::iter::once(serde_json::Value::Bool(true))
        .chain(
            CONSENT_WORDS
                .iter()
                .map(|w| serde_json::Value::String((*w).into())),
        )
        .collect();
    let fields = ObjectBuilder::new()
        .description(Some(
            "A correction or contribution. Strings are trimmed before they are checked; \
             lengths count what is sent.",
        ))
        .property(
            "la",
            one_of_strings(ds.las.iter().map(|l| l.code.clone()))
                .description(Some("GSS code of the LA this is about")),
        )
        .property(
            "partnership",
            ObjectBuilder::new().schema_type(Type::String).description(Some(
                "Id of a partnership listed in that LA (from /api/partnerships), or empty",
            )),
        )
        .property(
            "kind",
            one_of_strings(kinds.iter().copied()).description(Some("What kind of contribution")),
        )
        .property(
            "message",
            text(
                Some(r"\S[\s\S]{8,}\S"),
                MAX_MESSAGE,
                "What should change: at least 10 characters once trimmed",
            ),
        )
        .property(
            "name",
            text(Some(r"\S"), MAX_SHORT, "Your name (never published)"),
        )
        .property(
            "organisation",
            text(
                None,
                MAX_SHORT,
                "Your organisation (never published); for a verification, the LA",
            ),
        )
        .property(
            "email",
            text(
                // The local part has no whitespace as the server counts it (`char::is_whitespace`,
                // which also takes U+0085, unlike a pattern's `\s`).
                Some(r"^\s*[^\s\u0085]{1,64}@(?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)+\s*$"),
                MAX_EMAIL,
                "Your email address, to follow up (never published)",
            ),
        )
        .property(
            "consent",
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .enum_values(Some(consent))
                .description(Some(
                    "Consent to store the details: `true` (a form may send `true`, `on`, `yes` or `1`)",
                )),
        )
        .property(
            "website",
            text(
                Some(r"^\s*$"),
                MAX_SHORT,
                "Leave empty (a field only robots fill in)",
            ),
        )
        .required("la")
        .required("kind")
        .required("message")
        .required("name")
        .required("email")
        .required("consent");
    let mut by_la = OneOfBuilder::new();
    for (li, la) in ds.las.iter().enumerate() {
        let ids = std::iter::once(String::new()).chain(
            ds.la_partnerships
                .get(li)
                .into_iter()
                .flatten()
                .filter_map(|pi| ds.partnerships.get(*pi))
                .map(|p| p.id.clone()),
        );
        by_la = by_la.item(
            ObjectBuilder::new()
                .property("la", one_of_strings([la.code.clone()]))
                .property("partnership", one_of_strings(ids))
                .required("la"),
        );
    }
    let by_kind = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .property(
                    "kind",
                    one_of_strings(kinds.iter().copied().filter(|k| *k != "verification")),
                )
                .required("kind"),
        )
        .item(
            ObjectBuilder::new()
                .property("kind", one_of_strings(["verification"]))
                .property(
                    "organisation",
                    text(Some(r"\S"), MAX_SHORT, "The LA verifying"),
                )
                .required("kind")
                .required("organisation"),
        );
    Schema::AllOf(
        AllOfBuilder::new()
            .item(fields)
            .item(by_la)
            .item(by_kind)
            .build(),
    )
}

/// `(operation id, status, link name, target operation id, [(parameter, runtime expression)])`:
/// where an answer hands on an id another operation takes.
type LinkRule = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The links the stateful phase of a tester follows: edit → its page → its undo, submission →
/// review, campaign → its parts, answer → accept or close, lists → their items.
const LINKS: &[LinkRule] = &[
    (
        "post_api_admin_edits",
        "201",
        "change",
        "get_api_changes_id",
        &[("id", "$response.body#/change")],
    ),
    (
        "post_api_admin_edits",
        "201",
        "revert",
        "post_api_admin_changes_id_revert",
        &[("id", "$response.body#/change")],
    ),
    (
        "post_api_admin_changes_id_revert",
        "201",
        "change",
        "get_api_changes_id",
        &[("id", "$response.body#/change")],
    ),
    (
        "get_api_changes",
        "200",
        "first",
        "get_api_changes_id",
        &[("id", "$response.body#/changes/0/id")],
    ),
    (
        "get_api_admin_changes",
        "200",
        "revert_first",
        "post_api_admin_changes_id_revert",
        &[("id", "$response.body#/changes/0/id")],
    ),
    (
        "post_api_submissions",
        "201",
        "submission",
        "get_api_admin_submissions_id",
        &[("id", "$response.body#/id")],
    ),
    (
        "post_api_submissions",
        "201",
        "review",
        "post_api_admin_submissions_id_review",
        &[("id", "$response.body#/id")],
    ),
    (
        "get_api_admin_submissions",
        "200",
        "first",
        "get_api_admin_submissions_id",
        &[("id", "$response.body#/items/0/id")],
    ),
    (
        "get_api_admin_submissions",
        "200",
        "review_first",
        "post_api_admin_submissions_id_review",
        &[("id", "$response.body#/items/0/id")],
    ),
    (
        "post_api_verification_campaigns",
        "201",
        "campaign",
        "get_api_verification_campaigns_id",
        &[("id", "$response.body#/id")],
    ),
    (
        "post_api_verification_campaigns",
        "201",
        "status",
        "get_api_verification_campaigns_id_status_csv",
        &[("id", "$response.body#/id")],
    ),
    (
        "post_api_verification_campaigns",
        "201",
        "reminders",
        "get_api_verification_campaigns_id_reminders_csv",
        &[("id", "$response.body#/id")],
    ),
    (
        "post_api_verification_campaigns",
        "201",
        "more_links",
        "post_api_verification_campaigns_id_links",
        &[("id", "$response.body#/id")],
    ),
    (
        "get_api_verification_campaigns",
        "200",
        "first",
        "get_api_verification_campaigns_id",
        &[("id", "$response.body#/campaigns/0/id")],
    ),
    (
        "get_api_verification_responses",
        "200",
        "first",
        "get_api_verification_responses_id",
        &[("id", "$response.body#/responses/0/answer/id")],
    ),
    (
        "get_api_verification_responses",
        "200",
        "accept_first",
        "post_api_verification_responses_id_accept",
        &[("id", "$response.body#/responses/0/answer/id")],
    ),
    (
        "get_api_verification_responses",
        "200",
        "close_first",
        "post_api_verification_responses_id_close",
        &[("id", "$response.body#/responses/0/answer/id")],
    ),
];

/// Adds [`LINKS`] to the operations' responses of the serialised document (utoipa 5 writes a
/// link's `operationId` as `operation_id`, so they are written here as plain JSON).
pub fn add_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for (from, status, name, to, params) in LINKS {
        if !paths
            .values()
            .filter_map(serde_json::Value::as_object)
            .flat_map(|item| item.values())
            .any(|op| op["operationId"] == *to)
        {
            continue;
        }
        let Some(response) = paths
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .find(|op| op["operationId"] == *from)
            .and_then(|op| op.pointer_mut(&format!("/responses/{status}")))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        let parameters: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(p, e)| ((*p).to_owned(), serde_json::Value::String((*e).to_owned())))
            .collect();
        let links = response
            .entry("links")
            .or_insert_with(|| serde_json::json!({}));
        links[*name] = serde_json::json!({ "operationId": to, "parameters": parameters });
    }
}

/// Removes the operations that need an editor's token (and the token's scheme).
pub fn without_secured(doc: &mut serde_json::Value) {
    if let Some(paths) = doc
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    {
        for item in paths.values_mut() {
            if let Some(ops) = item.as_object_mut() {
                ops.retain(|_, op| op["security"].as_array().is_none_or(Vec::is_empty));
            }
        }
        paths.retain(|_, item| item.as_object().is_some_and(|ops| !ops.is_empty()));
    }
    if let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemes.remove("editor_token");
    }
}
