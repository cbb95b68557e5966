//! Tests of the Pipedrive source: Basic auth, and v1 and v2 webhooks from Pipedrive's
//! migration guide.

use super::*;

fn source() -> PipedriveSource {
    PipedriveSource {
        username: "pipedrive".into(),
        password: Secret::new("p4ss:word"),
        activity_types: BTreeMap::new(),
    }
}

fn verify(authorization: Option<&str>) -> Result<(), SourceError> {
    let headers: Vec<(String, String)> = authorization
        .map(|a| vec![("authorization".to_string(), a.to_string())])
        .unwrap_or_default();
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: b"{}",
    };
    source().verify(&delivery, 0)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[test]
fn basic_auth_is_checked() {
    assert_eq!(verify(Some(&basic("pipedrive", "p4ss:word"))), Ok(()));
    assert_eq!(
        verify(
            Some(&basic("pipedrive", "p4ss:word"))
                .map(|s| s.replace("Basic", "basic"))
                .as_deref()
        ),
        Ok(())
    );
    for wrong in [
        basic("pipedrive", "p4ss:wore"),
        basic("pipedrivf", "p4ss:word"),
        basic("pipedrive", ""),
        "Basic !!!".into(),
        format!("Basic {}", STANDARD.encode("nocolon")),
    ] {
        assert!(
            matches!(verify(Some(&wrong)), Err(SourceError::BadCredentials(_))),
            "{wrong}"
        );
    }
    assert_eq!(
        verify(Some("Bearer abc")),
        Err(SourceError::BadCredentials(
            "Authorization is not HTTP Basic".into()
        ))
    );
    assert_eq!(
        verify(None),
        Err(SourceError::MissingHeader("Authorization"))
    );
}

// `u`/`p` → `Basic dTpw` (the encoding Pipedrive's http_auth_user/_password produce).
#[test]
fn the_documented_encoding_matches() {
    let src = PipedriveSource {
        username: "u".into(),
        password: Secret::new("p"),
        activity_types: BTreeMap::new(),
    };
    let headers = vec![("authorization".to_string(), "Basic dTpw".to_string())];
    assert_eq!(
        src.verify(
            &Delivery {
                method: "POST",
                url: "",
                headers: &headers,
                body: b""
            },
            0
        ),
        Ok(())
    );
}

fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &[],
        body: body.as_bytes(),
    };
    source().normalize(&delivery)
}

fn ms(s: &str) -> Millis {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn meta(action: &str, entity: &str, id: &str, entity_id: &str, timestamp: &str) -> Value {
    serde_json::json!({
        "action": action, "company_id": "8087566", "correlation_id": "a5ad2ea2-1279-413a-9ba6-34671edf5fe3",
        "entity_id": entity_id, "entity": entity, "id": id, "is_bulk_edit": false,
        "timestamp": timestamp, "type": "general", "user_id": "12415231", "version": "2.0",
        "webhook_id": "4710827", "webhook_owner_id": "12094821", "change_source": "app",
        "attempt": 1, "host": "pd-us.pipedrive.com"
    })
}

// "Create deal" of Pipedrive's webhooks v2 migration guide (Webhooks v2 examples).
fn deal_created() -> Value {
    serde_json::json!({
        "data": {
            "add_time": "2022-11-24T13:18:55Z", "channel": null, "channel_id": null, "close_time": null,
            "creator_user_id": 12415231, "currency": "EUR", "custom_fields": {}, "expected_close_date": null,
            "first_won_time": null, "id": 8, "label_ids": [], "lost_reason": null, "lost_time": null,
            "org_id": 1, "origin": "ManuallyCreated", "origin_id": null, "owner_id": 12415231,
            "person_id": 8, "pipeline_id": 1, "probability": null, "stage_change_time": null,
            "stage_id": 2, "status": "open", "title": "Sample Org deal", "update_time": null,
            "value": 100, "visible_to": "3", "won_time": null
        },
        "previous": null,
        "meta": meta("create", "deal", "71825ee0-0054-4267-b5fd-d28b7a414212", "8", "2022-11-24T13:18:56.089Z")
    })
}

#[test]
fn a_created_deal_is_an_opportunity_of_its_person_and_org() {
    let events = normalize(&deal_created().to_string()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].provider_id,
        "71825ee0-0054-4267-b5fd-d28b7a414212:opportunity_created"
    );
    assert_eq!(
        events[0].body,
        EventBody::Outcome(Outcome {
            who: vec![Identity::crm("pipedrive", "8")],
            account: Some("pipedrive-org:1".into()),
            kind: OutcomeKind::OpportunityCreated,
            opportunity: Some("pipedrive:8".into()),
            stage: Some("2".into()),
            amount: Some(100.0),
            currency: Some("EUR".into()),
            occurred_at: ms("2022-11-24T13:18:55Z"),
            ..Default::default()
        })
    );
}

#[test]
fn an_amount_that_is_no_number_is_left_out() {
    for value in ["NaN", "inf", "-infinity"] {
        let mut deal = deal_created();
        deal["data"]["value"] = Value::String(value.into());
        let events = normalize(&deal.to_string()).unwrap();
        let EventBody::Outcome(outcome) = &events[0].body else {
            panic!("an outcome")
        };
        assert_eq!(outcome.amount, None, "{value}");
    }
}

#[test]
fn won_lost_and_stage_changes_are_read_from_previous() {
    let mut won = deal_created();
    won["meta"] = meta(
        "change",
        "deal",
        "df47d877-b58c-4886-91cd-1aa83e1d7366",
        "8",
        "2022-11-25T10:00:01.000Z",
    );
    won["data"]["status"] = "won".into();
    won["data"]["won_time"] = "2022-11-25T10:00:00Z".into();
    won["data"]["value"] = 1500.into();
    won["previous"] = serde_json::json!({"status": "open", "update_time": "2022-11-24T15:11:55Z"});
    let events = normalize(&won.to_string()).unwrap();
    assert_eq!(events.len(), 1);
    let EventBody::Outcome(outcome) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        (outcome.kind, outcome.occurred_at, outcome.amount),
        (OutcomeKind::Won, ms("2022-11-25T10:00:00Z"), Some(1500.0))
    );
    assert_eq!(
        events[0].provider_id,
        "df47d877-b58c-4886-91cd-1aa83e1d7366:won"
    );

    let mut lost = won.clone();
    lost["data"]["status"] = "lost".into();
    lost["data"]["won_time"] = Value::Null;
    lost["data"]["lost_time"] = "2022-11-26T09:00:00Z".into();
    let EventBody::Outcome(outcome) = &normalize(&lost.to_string()).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(
        (outcome.kind, outcome.occurred_at),
        (OutcomeKind::Lost, ms("2022-11-26T09:00:00Z"))
    );

    let mut moved = deal_created();
    moved["meta"] = meta(
        "change",
        "deal",
        "e0000000-0000-0000-0000-000000000003",
        "8",
        "2022-11-27T08:00:00.000Z",
    );
    moved["data"]["stage_id"] = 3.into();
    moved["data"]["stage_change_time"] = "2022-11-27T07:59:59Z".into();
    moved["previous"] = serde_json::json!({"stage_id": 2});
    let events = normalize(&moved.to_string()).unwrap();
    let EventBody::Outcome(outcome) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        (outcome.kind, outcome.stage.as_deref(), outcome.occurred_at),
        (
            OutcomeKind::StageChanged,
            Some("3"),
            ms("2022-11-27T07:59:59Z")
        )
    );

    // Won and moved in one edit: two outcomes, two ids.
    let mut both = won.clone();
    both["data"]["stage_id"] = 5.into();
    both["previous"]["stage_id"] = 2.into();
    let ids: Vec<_> = normalize(&both.to_string())
        .unwrap()
        .into_iter()
        .map(|e| e.provider_id)
        .collect();
    assert_eq!(
        ids,
        vec![
            "df47d877-b58c-4886-91cd-1aa83e1d7366:won",
            "df47d877-b58c-4886-91cd-1aa83e1d7366:stage_changed"
        ]
    );

    // "Update deal" of the migration guide: only a custom field changed.
    let mut custom = deal_created();
    custom["meta"] = meta(
        "change",
        "deal",
        "df47d877-b58c-4886-91cd-1aa83e1d7366",
        "8",
        "2022-11-24T15:11:55.724Z",
    );
    custom["previous"] =
        serde_json::json!({"custom_fields": {"3d0fa3429dfa2d3dec265b4fc5dc8258ab66cdf3": null}});
    assert_eq!(normalize(&custom.to_string()).unwrap(), vec![]);
    // Reopened: nothing.
    let mut reopened = won.clone();
    reopened["data"]["status"] = "open".into();
    reopened["previous"]["status"] = "won".into();
    assert_eq!(normalize(&reopened.to_string()).unwrap(), vec![]);
}

#[test]
fn a_deal_without_person_is_kept_under_its_org() {
    let mut deal = deal_created();
    deal["data"]["person_id"] = Value::Null;
    let EventBody::Outcome(outcome) = &normalize(&deal.to_string()).unwrap()[0].body else {
        panic!()
    };
    assert!(outcome.who.is_empty());
    assert_eq!(outcome.account.as_deref(), Some("pipedrive-org:1"));
}

// "Update activity" of the migration guide, marked done.
fn activity(done: bool, previous: Value, kind: &str) -> String {
    serde_json::json!({
        "data": {
            "active_flag": true, "add_time": "2022-11-24T15:25:44Z", "busy_flag": null, "custom_fields": {},
            "deal_id": 10, "done": done, "due_date": "2022-11-24", "due_time": {"timezone_id": null, "value": ""},
            "duration": {"timezone_id": null, "value": ""}, "id": 2, "lead_id": null, "location": null,
            "org_id": null, "owner_id": 12415231, "person_id": 10, "public_description": "",
            "subject": "Call with friends and family", "type": kind, "update_time": "2022-11-24T15:28:13Z",
            "update_user_id": null
        },
        "previous": previous,
        "meta": meta("change", "activity", "7a40ac1f-debd-4d22-b8d6-d9a687a96ec4", "2", "2022-11-24T15:28:13.375Z")
    })
    .to_string()
}

#[test]
fn an_activity_marked_done_is_a_touch_of_its_person() {
    let events = normalize(&activity(
        true,
        serde_json::json!({"done": false}),
        "meeting",
    ))
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].provider_id,
        "7a40ac1f-debd-4d22-b8d6-d9a687a96ec4"
    );
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.kind, TouchKind::MeetingAttended);
    assert_eq!(touch.who, vec![Identity::crm("pipedrive", "10")]);
    assert_eq!(touch.occurred_at, ms("2022-11-24T15:28:13.375Z"));
    assert_eq!(touch.account, None);
    let properties = touch.properties.as_ref().unwrap();
    assert_eq!(properties["subject"], "Call with friends and family");
    assert_eq!(properties["deal_id"], "10");
    for (kind, expected) in [
        ("call", Some(TouchKind::Call)),
        ("email", Some(TouchKind::EmailReply)),
        ("task", None),
        ("lunch", None),
    ] {
        let events = normalize(&activity(true, serde_json::json!({"done": false}), kind)).unwrap();
        assert_eq!(
            events.first().map(|e| match &e.body {
                EventBody::Touch(t) => t.kind,
                _ => panic!(),
            }),
            expected,
            "{kind}"
        );
    }
    // Not done, or already done before this edit (subject changed): nothing.
    assert_eq!(
        normalize(&activity(
            false,
            serde_json::json!({"subject": "Call with friends"}),
            "call"
        ))
        .unwrap(),
        vec![]
    );
    assert_eq!(
        normalize(&activity(
            true,
            serde_json::json!({"subject": "Call with friends"}),
            "call"
        ))
        .unwrap(),
        vec![]
    );
    assert_eq!(
        normalize(&activity(false, serde_json::json!({"done": true}), "call")).unwrap(),
        vec![]
    );
}

#[test]
fn an_activity_created_done_counts_and_the_type_table_is_configurable() {
    let mut created: Value = serde_json::from_str(&activity(true, Value::Null, "demo")).unwrap();
    created["meta"]["action"] = "create".into();
    let mut src = source();
    src.activity_types
        .insert("demo".into(), "demo_request".into());
    src.activity_types.insert("call".into(), "none".into());
    let body = created.to_string();
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &[],
        body: body.as_bytes(),
    };
    let EventBody::Touch(touch) = &src.normalize(&delivery).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(touch.kind, TouchKind::DemoRequest);
    assert_eq!(src.kind_for("call"), None);
    assert_eq!(src.kind_for("meeting"), Some(TouchKind::MeetingAttended));
    src.activity_types.insert("x".into(), "bogus".into());
    let (key, reason) = src.validate().unwrap_err();
    assert_eq!(key, "activity_types.x");
    assert!(reason.contains("meeting_attended"));
    // An activity without a person has no one to credit.
    created["data"]["person_id"] = Value::Null;
    assert_eq!(normalize(&created.to_string()).unwrap(), vec![]);
}

// "Update person" of the migration guide, with the emails/phones it documents as lists.
#[test]
fn a_person_becomes_a_profile_with_all_identities() {
    let body = serde_json::json!({
        "data": {
            "add_time": "2022-11-24T13:18:55Z", "custom_fields": {},
            "emails": [{"label": "home", "value": "ann@home.example", "primary": false}, {"label": "work", "value": "Ann@Example.com", "primary": true}],
            "first_name": "Ann", "id": 8, "label": null, "last_name": "Lee", "name": "Ann Lee", "org_id": 1,
            "owner_id": 12415231, "phones": [{"label": "work", "value": "+372 555 0100", "primary": true}],
            "update_time": "2022-11-24T15:18:35Z", "visible_to": "3"
        },
        "previous": {"first_name": "Sample", "name": "Sample"},
        "meta": meta("change", "person", "7c812ffd-8f50-45ea-a597-b8fcba2da9c0", "8", "2022-11-24T15:18:35.616Z")
    });
    let events = normalize(&body.to_string()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].provider_id,
        "7c812ffd-8f50-45ea-a597-b8fcba2da9c0"
    );
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        profile.who,
        vec![
            Identity::crm("pipedrive", "8"),
            Identity::email("ann@example.com"),
            Identity::email("ann@home.example")
        ]
    );
    assert_eq!(profile.account.as_deref(), Some("pipedrive-org:1"));
    assert_eq!(profile.occurred_at, ms("2022-11-24T15:18:35Z"));
    let fields: Vec<_> = profile
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("phone", "+372 555 0100")
        ]
    );
}

// "Create person" of the migration guide: no emails, last_name null.
#[test]
fn the_guide_person_has_a_first_name_only() {
    let body = serde_json::json!({
        "data": {"add_time": "2022-11-24T13:18:55Z", "custom_fields": {}, "emails": [], "first_name": "Sample", "id": 8, "label": null,
                 "last_name": null, "name": "Sample", "org_id": 1, "owner_id": 12415231, "phones": [], "update_time": "2022-11-24T13:18:55Z", "visible_to": "3"},
        "previous": null,
        "meta": meta("create", "person", "5359a602-6d1b-4562-a385-ccaa762bd722", "8", "2022-11-24T13:18:55.665Z")
    });
    let EventBody::Profile(profile) = &normalize(&body.to_string()).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(profile.who, vec![Identity::crm("pipedrive", "8")]);
    assert_eq!(profile.fields.len(), 1);
    assert_eq!(profile.fields["first_name"], "Sample");
}

#[test]
fn a_merge_change_joins_the_two_people() {
    let body = serde_json::json!({
        "data": {"id": 8, "name": "Ann Lee", "emails": [], "phones": [], "org_id": null, "update_time": "2022-11-24T15:18:35Z"},
        "previous": {"name": "Ann"},
        "meta": {"action": "change", "entity": "person", "id": "m-1", "entity_id": "8", "merged_from_id": "9", "timestamp": "2022-11-24T15:18:35.616Z", "version": "2.0"}
    });
    let events = normalize(&body.to_string()).unwrap();
    assert_eq!(events[0].provider_id, "m-1:merge");
    assert_eq!(
        events[0].body,
        EventBody::Merge {
            into: Identity::crm("pipedrive", "8"),
            from: vec![Identity::crm("pipedrive", "9")]
        }
    );
    let EventBody::Profile(profile) = &events[1].body else {
        panic!()
    };
    assert_eq!(profile.fields["first_name"], "Ann");
    assert_eq!(profile.fields["last_name"], "Lee");
}

// v1 "added person" shape: pipedream components/pipedrive/sources/new-person-instant/test-event.mjs
// (meta.object, current, email/phone lists, job_title, org_name).
#[test]
fn a_v1_person_is_read_too() {
    let body = serde_json::json!({
        "v": 1, "matches_filters": {"current": []},
        "meta": {"action": "added", "change_source": "api", "company_id": 1234567890, "host": "subdomain.pipedrive.com", "id": 10,
                 "is_bulk_update": false, "object": "person", "permitted_user_ids": [1234567890], "pipedrive_service_name": false,
                 "timestamp": 1739826941, "timestamp_micro": 1739826941509060_i64, "prepublish_timestamp": 1739826941605_i64,
                 "trans_pending": false, "user_id": 1234567890, "v": 1, "webhook_id": "1234567890"},
        "current": {"id": 10, "job_title": "CTO", "name": "Person Name", "first_name": "Person", "last_name": "Name",
                    "org_id": {"name": "Acme", "value": 5}, "org_name": "Acme",
                    "phone": [{"value": "", "primary": true}],
                    "email": [{"value": "person@acme.example", "primary": true, "label": "work"}],
                    "update_time": "2025-02-17 21:15:41"},
        "previous": null, "retry": 0, "event": "added.person"
    });
    let events = normalize(&body.to_string()).unwrap();
    assert_eq!(events[0].provider_id, "v1:person:10:added:1739826941509060");
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        profile.who,
        vec![
            Identity::crm("pipedrive", "10"),
            Identity::email("person@acme.example")
        ]
    );
    assert_eq!(profile.fields["title"], "CTO");
    assert_eq!(profile.fields["company"], "Acme");
    assert!(!profile.fields.contains_key("phone"));
    assert_eq!(profile.account.as_deref(), Some("pipedrive-org:5"));
    assert_eq!(profile.occurred_at, ms("2025-02-17T21:15:41Z"));
}

#[test]
fn v1_deal_won_compares_with_the_full_previous_state() {
    let deal = |status: &str| serde_json::json!({"id": 3, "status": status, "stage_id": 4, "value": 50, "currency": "USD", "person_id": 7, "org_id": 2, "won_time": "2025-02-17 21:15:41"});
    let body = serde_json::json!({
        "meta": {"action": "updated", "object": "deal", "id": 3, "timestamp": 1739826941, "v": 1},
        "current": deal("won"), "previous": deal("open"), "retry": 0
    });
    let events = normalize(&body.to_string()).unwrap();
    assert_eq!(events.len(), 1);
    let EventBody::Outcome(outcome) = &events[0].body else {
        panic!()
    };
    assert_eq!(outcome.kind, OutcomeKind::Won);
    assert_eq!(events[0].provider_id, "v1:deal:3:updated:1739826941:won");
}

#[test]
fn deletes_and_other_entities_are_acknowledged_without_events() {
    let mut deleted = deal_created();
    deleted["meta"]["action"] = "delete".into();
    deleted["previous"] = deleted["data"].take();
    deleted["data"] = Value::Null;
    assert_eq!(normalize(&deleted.to_string()).unwrap(), vec![]);
    let org = serde_json::json!({"data": {"id": 1, "name": "Sample Org"}, "previous": null,
        "meta": meta("create", "organization", "ece7b901-5898-4c80-986a-6b7feeabebe4", "1", "2022-11-24T13:18:55.315Z")});
    assert_eq!(normalize(&org.to_string()).unwrap(), vec![]);
}

#[test]
fn malformed_payloads_say_which_field() {
    let without = |path: &[&str]| {
        let mut body = deal_created();
        let mut target = &mut body;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target.as_object_mut().unwrap().remove(path[path.len() - 1]);
        body.to_string()
    };
    let mut bad_action = deal_created();
    bad_action["meta"]["action"] = "archive".into();
    let mut data_list = deal_created();
    data_list["data"] = serde_json::json!([1]);
    let mut no_time = deal_created();
    no_time["data"]["add_time"] = Value::Null;
    no_time["meta"].as_object_mut().unwrap().remove("timestamp");
    for (body, needle) in [
        ("not json".to_string(), "Pipedrive webhook JSON object"),
        ("{}".to_string(), "meta is required"),
        (without(&["meta", "entity"]), "meta.entity is required"),
        (without(&["meta", "action"]), "meta.action is required"),
        (without(&["meta", "id"]), "meta.id is required"),
        (without(&["data", "id"]), "deal id is required"),
        (without(&["data"]), "data is required for deal create"),
        (bad_action.to_string(), "meta.action `archive`"),
        (data_list.to_string(), "data must be an object"),
        (no_time.to_string(), "meta.timestamp is required"),
    ] {
        match normalize(&body) {
            Err(SourceError::Malformed(reason)) => {
                assert!(reason.contains(needle), "{needle}: {reason}")
            }
            other => panic!("{needle}: {other:?}"),
        }
    }
}

#[test]
fn settings_are_checked() {
    assert_eq!(source().validate(), Ok(()));
    let mut src = source();
    src.username = "a:b".into();
    assert_eq!(src.validate().unwrap_err().0, "username");
    let mut src = source();
    src.password = Secret::new("");
    assert_eq!(src.validate().unwrap_err().0, "password");
}
