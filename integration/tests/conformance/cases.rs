//! The table of cases: each names the spec section it checks and how
//! binding it is.

use super::*;

pub(crate) fn cases() -> Vec<Case> {
    vec![
        // root
        case!(root_path_absolute, "config.md#root path", Must),
        case!(root_readonly_true, "config.md#root readonly", Must),
        case!(root_readonly_false, "config.md#root readonly", Must),
        // mounts
        case!(mounts_default_types, "config.md#mounts type", Must),
        case!(mounts_tmpfs_data_options, "config.md#mounts options", Must),
        case!(mounts_flag_options, "config.md#mounts options", Must),
        case!(mounts_atime_options, "config.md#mounts options", Must),
        case!(mounts_bind_rw, "config.md#mounts bind", Must),
        case!(mounts_bind_ro, "config.md#mounts bind ro", Must),
        case!(mounts_bind_file, "config.md#mounts bind", Must),
        case!(mounts_bind_flags, "config.md#mounts bind options", Must),
        case!(mounts_bind_vs_rbind, "config.md#mounts rbind", Must),
        case!(mounts_in_order, "config.md#mounts order", Must),
        case!(
            mounts_destination_created,
            "config.md#mounts destination",
            Should
        ),
        case!(
            mounts_bind_propagation,
            "config.md#mounts rslave/rprivate",
            Must
        ),
        // process
        case!(process_args, "config.md#process args", Must),
        case!(
            process_args_path_lookup,
            "config.md#process args (execvp)",
            Must
        ),
        case!(
            process_stdio_passthrough,
            "runc CLI run (terminal false)",
            Should
        ),
        case!(process_env, "config.md#process env", Must),
        case!(process_cwd, "config.md#process cwd", Must),
        case!(process_user_uid_gid, "config.md#user uid/gid", Must),
        case!(
            process_user_additional_gids,
            "config.md#user additionalGids",
            Must
        ),
        case!(process_user_umask, "config.md#user umask", Must),
        case!(process_terminal, "config.md#process terminal", Must),
        case!(process_console_size, "config.md#process consoleSize", Must),
        case!(
            caps_root_bounding_effective_permitted,
            "config.md#capabilities",
            Must
        ),
        case!(caps_inheritable, "config.md#capabilities inheritable", Must),
        case!(caps_ambient, "config.md#capabilities ambient", Must),
        case!(caps_dropped_are_enforced, "config.md#capabilities", Must),
        case!(rlimits_applied, "config.md#process rlimits", Must),
        case!(
            rlimits_soft_above_hard_error,
            "config.md#process rlimits",
            Must
        ),
        case!(
            rlimits_unknown_type_error,
            "config.md#process rlimits",
            Must
        ),
        case!(rlimits_duplicate_error, "config.md#process rlimits", Must),
        case!(
            rlimits_raise_hard_without_cap_error,
            "config.md#process rlimits",
            Must
        ),
        case!(no_new_privileges_true, "config.md#noNewPrivileges", Must),
        case!(no_new_privileges_false, "config.md#noNewPrivileges", Must),
        case!(oom_score_adj, "config.md#oomScoreAdj", Must),
        case!(
            oom_score_adj_unsettable_error,
            "config.md#oomScoreAdj",
            Must
        ),
        case!(hostname, "config.md#hostname", Must),
        case!(domainname, "config.md#domainname (1.1)", Should),
        case!(
            personality_linux32,
            "config-linux.md#personality (1.1)",
            Info
        ),
        // namespaces
        case!(ns_pid, "config-linux.md#namespaces pid", Must),
        case!(ns_network, "config-linux.md#namespaces network", Must),
        case!(ns_ipc, "config-linux.md#namespaces ipc", Must),
        case!(ns_uts, "config-linux.md#namespaces uts", Must),
        case!(ns_mount, "config-linux.md#namespaces mount", Must),
        case!(ns_cgroup, "config-linux.md#namespaces cgroup", Must),
        case!(ns_user_mappings, "config-linux.md#user ns mappings", Must),
        case!(
            ns_user_distinct_gid_mappings,
            "config-linux.md#user ns mappings",
            Must
        ),
        case!(ns_absent_inherits_host, "config-linux.md#namespaces", Must),
        case!(ns_path_join, "config-linux.md#namespaces path", Must),
        case!(
            ns_path_wrong_type_error,
            "config-linux.md#namespaces path",
            Must
        ),
        case!(
            ns_unknown_type_error,
            "config-linux.md#namespaces type",
            Must
        ),
        case!(
            ns_time_offsets,
            "config-linux.md#namespaces time (1.1)",
            Info
        ),
        // devices
        case!(devices_created, "config-linux.md#devices", Must),
        case!(devices_default, "config-linux.md#default-devices", Must),
        case!(dev_symlinks, "runtime-linux.md#dev-symbolic-links", Must),
        // cgroups
        case!(cgroups_path, "config-linux.md#cgroups-path", Must),
        case!(
            cgroups_path_relative,
            "config-linux.md#cgroups-path",
            Should
        ),
        case!(cgroup_memory, "config-linux.md#memory", Must),
        case!(cgroup_memory_oom_kill, "config-linux.md#memory limit", Must),
        case!(cgroup_cpu, "config-linux.md#cpu", Must),
        case!(cgroup_pids, "config-linux.md#pids", Must),
        case!(cgroup_blkio, "config-linux.md#block-io", Must),
        case!(
            cgroup_devices_allow,
            "config-linux.md#allowed-device-list",
            Must
        ),
        case!(
            cgroup_devices_deny,
            "config-linux.md#allowed-device-list",
            Must
        ),
        // sysctl, seccomp
        case!(sysctl, "config-linux.md#sysctl", Must),
        case!(
            sysctl_not_namespaced_refused,
            "config-linux.md#sysctl",
            Should
        ),
        case!(
            seccomp_errno_default_allowlist,
            "config-linux.md#seccomp",
            Must
        ),
        case!(seccomp_kill_rule, "config-linux.md#seccomp action", Must),
        case!(
            seccomp_arg_rule_errno_ret,
            "config-linux.md#seccomp args/errnoRet",
            Must
        ),
        case!(seccomp_operators, "config-linux.md#seccomp args op", Must),
        case!(
            seccomp_actions_log_trace_kill_thread,
            "config-linux.md#seccomp action",
            Must
        ),
        case!(seccomp_flags, "config-linux.md#seccomp flags", Must),
        case!(
            seccomp_actions_kill_process_trap_errno,
            "config-linux.md#seccomp action",
            Must
        ),
        // propagation, masked/readonly
        case!(
            rootfs_propagation_shared,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_slave,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_private,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(
            rootfs_propagation_unbindable,
            "config-linux.md#rootfs-mount-propagation",
            Must
        ),
        case!(masked_paths_files, "config-linux.md#masked-paths", Must),
        case!(masked_paths_dirs, "config-linux.md#masked-paths", Must),
        case!(readonly_paths, "config-linux.md#readonly-paths", Must),
        // hooks
        case!(hooks_order, "config.md#posix-platform-hooks", Must),
        case!(hooks_state_stdin, "runtime.md#lifecycle hooks state", Must),
        case!(
            hooks_state_status,
            "runtime.md#lifecycle hooks state",
            Should
        ),
        case!(hooks_args_env, "config.md#hooks args/env", Must),
        case!(
            hooks_namespaces,
            "config.md#posix-platform-hooks namespaces",
            Must
        ),
        case!(hooks_prestart_fail, "runtime.md#lifecycle 3", Must),
        case!(hooks_create_runtime_fail, "runtime.md#lifecycle 4", Must),
        case!(hooks_create_container_fail, "runtime.md#lifecycle 5", Must),
        case!(hooks_start_container_fail, "runtime.md#lifecycle 7", Must),
        case!(hooks_poststart_fail, "runtime.md#lifecycle 9", Must),
        case!(hooks_poststop_fail_warns, "runtime.md#lifecycle 13", Must),
        case!(
            hooks_failed_create_runs_poststop,
            "runtime.md#lifecycle 4+12+13",
            Must
        ),
        case!(hooks_timeout, "config.md#hooks timeout", Must),
        // state and lifecycle
        case!(annotations_in_state, "runtime.md#state annotations", Must),
        case!(state_fields, "runtime.md#state", Must),
        case!(
            lifecycle_create_does_not_run_program,
            "runtime.md#create",
            Must
        ),
        case!(lifecycle_start_runs_program, "runtime.md#start", Must),
        case!(lifecycle_exit_is_stopped, "runtime.md#lifecycle 10", Must),
        case!(
            lifecycle_delete_removes_everything,
            "runtime.md#delete",
            Must
        ),
        case!(config_updates_without_affect, "runtime.md#create", Must),
        case!(create_duplicate_id_error, "runtime.md#create", Must),
        case!(start_running_refused, "runtime.md#start", Must),
        case!(start_stopped_refused, "runtime.md#start", Must),
        case!(delete_running_refused, "runtime.md#delete", Must),
        case!(delete_created_refused, "runtime.md#delete", Must),
        case!(kill_signal_delivered, "runtime.md#kill", Must),
        case!(kill_signal_forms, "runc CLI kill", Should),
        case!(kill_created_container, "runtime.md#kill", Must),
        case!(kill_stopped_error, "runtime.md#kill", Must),
        case!(ops_on_unknown_id_error, "runtime.md#operations", Must),
        case!(pid_file, "runc CLI --pid-file", Should),
        case!(run_exit_code, "runc CLI run", Should),
        case!(cli_exec, "runc CLI exec", Should),
        case!(cli_ps, "runc CLI ps", Should),
        case!(cli_pause_resume, "runc CLI pause/resume", Should),
        case!(cli_update, "runc CLI update", Should),
        case!(cli_events_stats, "runc CLI events --stats", Should),
        // runc's observable CLI contract (issue 17 A-G; hullc vs runc side
        // by side in integration/tests/runc_contract.rs)
        case!(cli_spec_defaults, "runc CLI spec (A)", Should),
        case!(
            cli_console_socket_needs_terminal,
            "runc CLI create --console-socket (A)",
            Should
        ),
        case!(cli_kill_signal_zero, "runc CLI kill 0 (B)", Should),
        case!(cli_run_keep, "runc CLI run --keep (B)", Should),
        case!(
            cli_update_cpu_share,
            "runc CLI update --cpu-share (B)",
            Should
        ),
        case!(cli_version_shape, "runc CLI --version (B)", Should),
        case!(cli_debug_log, "runc CLI --debug --log (C)", Should),
        case!(
            cli_list_json_fields,
            "runc CLI list --format json (D)",
            Should
        ),
        case!(cli_ps_args, "runc CLI ps -- ps(1) options (E)", Should),
        case!(
            cli_exec_start_failure_255,
            "runc CLI exec exit 255 (F)",
            Should
        ),
        case!(
            cli_exec_paused_refused,
            "runc CLI exec --ignore-paused (F)",
            Should
        ),
        case!(
            cli_delete_force_missing,
            "runc CLI delete --force (F)",
            Should
        ),
        case!(
            cgroup_v1_unified_invalid,
            "config-linux.md#unified (F)",
            Should
        ),
        case!(cgroup_frozen_refused, "runc cgroup frozen (G)", Should),
        case!(
            cgroup_nested_cpuset_parent,
            "runc cgroup v1 cpuset parents (G)",
            Should
        ),
        case!(
            cli_update_memory_unlimited,
            "runc CLI update --memory -1 (G)",
            Should
        ),
        case!(
            devices_access_normalised,
            "config-linux.md#device-allowlist access (G)",
            Should
        ),
        // issue 17 H-L (side by side in runtime_runc_order.rs,
        // runtime_seccomp_notify.rs and runtime_rootless.rs)
        case!(
            cwd_root_only_dir,
            "runc setup order: cwd before setuid (H)",
            Should
        ),
        case!(
            stdio_owned_by_user,
            "runc setup order: stdio chown (H)",
            Should
        ),
        case!(mount_rro, "config.md#mounts rro (J)", Should),
        case!(
            readonly_dev_tmpfs,
            "runc rootfs: read-only /dev (J)",
            Should
        ),
        case!(
            hook_create_container_cwd,
            "runc hooks: createContainer cwd (J)",
            Should
        ),
        case!(
            seccomp_same_argument_ored,
            "config-linux.md#seccomp args, as runc (K)",
            Should
        ),
        // invalid configs
        case!(invalid_oci_version, "config.md#specification-version", Must),
        case!(invalid_json, "bundle.md#config", Must),
        case!(invalid_missing_process, "config.md#process (start)", Must),
        case!(invalid_relative_cwd, "config.md#process cwd", Must),
        case!(invalid_empty_args, "config.md#process args", Must),
        case!(invalid_missing_rootfs, "config.md#root path", Must),
        case!(invalid_missing_executable, "runtime.md#create/start", Must),
        case!(invalid_seccomp_action, "config-linux.md#seccomp", Must),
        case!(invalid_hook_relative_path, "config.md#hooks path", Must),
        case!(invalid_mount_option, "runtime.md#lifecycle 2", Must),
        case!(invalid_bind_source_missing, "runtime.md#lifecycle 2", Must),
        case!(
            invalid_missing_oci_version,
            "config.md#specification-version",
            Must
        ),
        // features document
        case!(features_document, "features.md (1.1)", Info),
        case!(caps_all_claimed, "features.md linux.capabilities", Must),
        case!(mounts_claimed_options, "features.md mountOptions", Must),
    ]
}
