//! The shared storage suite: every case runs against SQLite and against PostgreSQL.
//! One test binary, as linking one per file costs minutes on small machines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod directory;
mod directory_lease;
mod distribution;
mod import;
mod invariants;
mod limits;
mod notify;
mod provisioning;
mod sessions;
mod support;
mod usage;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::support::sqlite().await;
                    crate::$case(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = crate::support::postgres().await {
                        crate::$case(&db).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    n1_x6_level_events_fire_once_per_crossing_and_re_arm,
    i4_each_event_gets_a_delivery_per_matching_webhook,
    x6_racing_logins_on_two_nodes_raise_each_crossing_once,
    i3_provisioning_creates_updates_and_redistributes_for_the_user,
    i2_provisioning_may_not_touch_privileged_roles_or_the_directorys_users,
    u1_u2_provisioning_beyond_the_limit_refuses_or_waits_blocked,
    d5_scim_group_membership_changes_move_role_bound_products,
    l1_license_request_names_company_instance_and_usage,
    l2_import_verifies_the_signature_and_reimport_is_a_no_op,
    l2_bad_license_files_are_refused_and_change_nothing,
    l3_import_adds_capacity,
    l3_renewal_carries_assignments_over_without_a_gap,
    l4_expiry_suspends_the_newest_and_returning_capacity_restores_them,
    l5_delete_all_licenses_keeps_assignments_suspended,
    u1_user_limit_refuses_creation_and_activation_admin_excluded,
    u1_csv_import_is_all_or_nothing_with_line_numbers,
    x13_3_a_login_is_answered_while_an_import_runs,
    x13_3_a_bad_last_line_changes_nothing,
    u3_block_frees_seats_and_unblock_needs_room,
    u4_summary_and_csv_export,
    x1_folder_seats_serve_their_users_first,
    x1_placement_never_takes_seats_from_holders,
    d1_bulk_grant_is_all_or_nothing_and_names_the_shortfall,
    d1_recall_frees_seats_and_is_audited,
    n3_every_change_is_audited_with_who_what_when,
    db_constraints_refuse_oversubscription_even_from_raw_sql,
    concurrent_grants_for_the_last_seats_never_oversubscribe,
    s1_login_names_products_or_the_refusal_reason,
    s1_expired_licenses_and_area_limits_refuse_with_their_reason,
    s1_a_repeated_login_follows_every_change_on_any_node,
    s2_auto_allocation_follows_the_four_steps_and_skips_module_seats,
    s3_floating_seats_end_with_logout_or_idle_timeout,
    s3_racing_logins_never_take_more_floating_seats_than_exist,
    s3_repeated_floating_logins_never_take_more_seats_than_exist,
    s3_a_turn_with_a_full_pool_still_ends_its_logouts_and_admits_own_seats,
    x13_the_builtin_admin_never_takes_a_seat_at_login,
    s4_recalling_a_seat_in_use_releases_it_at_session_end,
    x2_roles_permissions_and_tokens,
    l5_after_deleting_all_licenses_only_the_builtin_admin_logs_in,
    l4_expiry_takes_floating_seats_from_the_newest_sessions,
    d2_d3_a_role_scope_covers_members_and_descendants,
    d3_keep_or_remove_manually_granted_licenses,
    d3_single_user_scope_and_blocked_users_get_nothing,
    d4_shortages_become_pending_needs_fulfilled_as_seats_free_up,
    d4_preview_changes_nothing_and_matches_the_apply,
    d5_role_change_trigger_and_turning_distribution_off,
    d2_role_tree_refuses_cycles_and_deleting_a_role_recalls_its_seats,
    d6_explain_names_every_reason,
    d2_role_tree_counts_members_and_lists_them_by_login,
    d4_a_run_cut_off_midway_is_finished_on_reopen,
    d4_a_second_run_for_all_visits_only_changed_users,
    x14_a_run_in_chunks_of_one_user_matches_the_preview,
    x14_fulfilment_never_grants_a_seat_only_a_recall_would_free,
    i5_usage_history_records_changes_and_a_daily_point,
    u_user_list_filters_by_role_and_counts,
    x13_a_renewal_with_the_same_limit_does_not_double_it,
    x13_a_renewal_that_raises_or_lowers_the_limit_sets_it,
    x13_limits_of_independent_files_add_up_each_until_its_file_ends,
    x13_a_limit_expires_with_its_own_window,
    x13_a_renewal_without_limits_leaves_the_renewed_limit_until_it_ends,
    x13_9_company_id_changes_only_explicitly,
    x13_9_a_block_ends_the_users_signins_for_good,
    x13_9_no_op_changes_write_no_audit_records,
    x14_expiry_then_each_write_uses_no_expired_seat,
    x14_database_refusals_name_the_real_product_and_numbers,
    i1_first_sync_creates_users_roles_and_members_and_a_second_writes_nothing,
    i1_disabled_and_removed_users_are_blocked_with_their_reasons_and_seats_freed,
    u2_a_full_area_creates_users_blocked_and_a_later_sync_activates_them_oldest_first,
    d5_a_product_bound_to_a_role_follows_a_group_membership_change,
    i1_directory_settings_keep_the_password_out_of_every_read,
    i1_one_directory_sync_lease_at_a_time,
    u2_a_block_frees_room_and_the_oldest_license_limit_user_is_activated,
    u2_a_delete_frees_room_and_the_oldest_license_limit_user_is_activated,
    u2_a_hand_blocked_user_is_never_activated,
    u2_a_raised_limit_activates_waiting_users_oldest_first,
    u2_a_move_to_another_area_frees_room_for_the_oldest_waiting_user,
    i1_a_run_a_stopped_process_left_running_is_closed_as_interrupted,
    i1_a_login_taken_by_a_user_not_from_the_directory_is_skipped_not_fatal,
);

use cases::*;
use directory::*;
use directory_lease::*;
use distribution::*;
use import::*;
use invariants::*;
use limits::*;
use notify::*;
use provisioning::*;
use sessions::*;
use usage::*;
