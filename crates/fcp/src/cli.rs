//! The command line of the multi-call binary: which server runs, chosen from argv[0] (busybox style, through the
//! `federation-apiserver` / `federation-controller-manager` symlinks) or from the first argument of `fcp`.
//!
//! Everything here is pure: [`parse`] turns argv into an [`Action`] or a one-line [`UsageError`], and `main`
//! carries it out.

use std::{
    ffi::{OsStr, OsString},
    path::{Path, PathBuf},
};

use clap::{
    Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
    error::{ContextKind, ContextValue, ErrorKind},
};
use fcp_apiserver::ApiServerOptions;
use fcp_controllers::ControllerManagerOptions;
use fcp_simcluster::SimClusterOptions;

use crate::local_up::LocalUpOptions;

/// The API server.
pub(crate) const FEDERATION_APISERVER: &str = "federation-apiserver";
/// The controllers.
pub(crate) const FEDERATION_CONTROLLER_MANAGER: &str = "federation-controller-manager";
/// The servers that can also be selected by the program name (argv[0]); `--make-symlinks` creates these.
pub(crate) const SERVER_NAMES: [&str; 2] = [FEDERATION_APISERVER, FEDERATION_CONTROLLER_MANAGER];
const SIM_CLUSTER: &str = "sim-cluster";
const LOCAL_UP: &str = "local-up";
/// The servers `fcp <name>` runs, in the order the help lists them.
const SERVER_COMMANDS: [&str; 4] = [
    FEDERATION_APISERVER,
    FEDERATION_CONTROLLER_MANAGER,
    SIM_CLUSTER,
    LOCAL_UP,
];
/// Every name `fcp <name>` accepts.
const COMMAND_NAMES: [&str; 5] = [
    FEDERATION_APISERVER,
    FEDERATION_CONTROLLER_MANAGER,
    SIM_CLUSTER,
    LOCAL_UP,
    "version",
];

/// `fcp [--version | --make-symlinks [DIR] | <server> [flags]]`.
#[derive(Debug, Parser)]
#[command(
    name = "fcp",
    about = "fcp is Kubernetes Cluster Federation (v1) in one static binary: the federation API server, the \
             federation controller manager and local tooling.",
    long_about = None,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    after_help = "The servers can also be started through symlinks named after them (see --make-symlinks): \
                  `federation-apiserver [flags]` is `fcp federation-apiserver [flags]`.\n\
                  Flag names accept '_' for '-' (--etcd_servers is --etcd-servers).\n\
                  Logging goes to stderr; RUST_LOG sets the level (default: info)."
)]
struct FcpCli {
    /// Print the version (fcp version, git commit, Kubernetes API level) and exit.
    #[arg(short = 'V', long)]
    version: bool,

    /// Create `federation-apiserver` and `federation-controller-manager` symlinks to this executable in DIR
    /// (default: the current directory) and exit.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = ".")]
    make_symlinks: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<FcpCommand>,
}

#[derive(Debug, Subcommand)]
enum FcpCommand {
    /// The federation API server: a Kubernetes-compatible API server over etcd or the embedded store.
    #[command(name = "federation-apiserver")]
    FederationApiserver(Box<ApiServerCommand>),

    /// The federation controller manager: cluster health, and propagation of federated objects into the
    /// member clusters with replica scheduling and status roll-up.
    #[command(name = "federation-controller-manager")]
    FederationControllerManager(Box<ControllerManagerCommand>),

    /// A SIMULATOR of one member cluster (an API server with simulated nodes and workload status, like kwok),
    /// standing in for a real Kubernetes cluster in demos, tests and benchmarks. Nothing runs in it.
    #[command(name = "sim-cluster")]
    SimCluster(Box<SimClusterCommand>),

    /// A whole federation in one process: API server on embedded storage, controller manager and N SIMULATED
    /// member clusters, all joined; writes DIR/kubeconfig and runs until Ctrl-C.
    #[command(name = "local-up")]
    LocalUp(Box<LocalUpCommand>),

    /// Print the version (fcp version, git commit, Kubernetes API level).
    Version,
}

/// `fcp federation-apiserver` / `federation-apiserver`.
#[derive(Debug, Args)]
pub(crate) struct ApiServerCommand {
    #[command(flatten)]
    pub(crate) options: ApiServerOptions,

    #[command(flatten)]
    pub(crate) logging: LogOptions,

    /// Print the version (fcp version, git commit, Kubernetes API level) and exit.
    #[arg(long)]
    pub(crate) version: bool,
}

/// `fcp federation-controller-manager` / `federation-controller-manager`.
#[derive(Debug, Args)]
pub(crate) struct ControllerManagerCommand {
    #[command(flatten)]
    pub(crate) options: ControllerManagerOptions,

    #[command(flatten)]
    pub(crate) logging: LogOptions,

    /// Print the version (fcp version, git commit, Kubernetes API level) and exit.
    #[arg(long)]
    pub(crate) version: bool,
}

/// `fcp sim-cluster`.
#[derive(Debug, Args)]
pub(crate) struct SimClusterCommand {
    #[command(flatten)]
    pub(crate) options: SimClusterOptions,

    #[command(flatten)]
    pub(crate) logging: LogOptions,
}

/// `fcp local-up`.
#[derive(Debug, Args)]
pub(crate) struct LocalUpCommand {
    #[command(flatten)]
    pub(crate) options: LocalUpOptions,

    #[command(flatten)]
    pub(crate) logging: LogOptions,
}

/// Flags shared by every long-running server.
#[derive(Debug, Clone, Args)]
pub(crate) struct LogOptions {
    /// Format of the log lines written to stderr. RUST_LOG sets the level and filters (default: info; local-up: info,audit=warn).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// How log lines are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What the process should do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Run the API server.
    ApiServer(Box<ApiServerCommand>),
    /// Run the controller manager.
    ControllerManager(Box<ControllerManagerCommand>),
    /// Run one simulated member cluster.
    SimCluster(Box<SimClusterCommand>),
    /// Run a whole local federation.
    LocalUp(Box<LocalUpCommand>),
    /// Print the version line and exit 0.
    Version,
    /// Create the server symlinks in this directory and exit.
    MakeSymlinks(PathBuf),
    /// `--help` (or `fcp help`): print it on stdout and exit 0.
    Help(clap::Error),
}

/// A command line that cannot run: printed as `error: <message>` (one line), optionally followed by the usage,
/// on stderr; exit 1.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UsageError {
    /// One line naming the cause.
    pub(crate) message: String,
    /// The full usage, when the mistake is not using a server at all.
    pub(crate) usage: Option<String>,
}

impl UsageError {
    fn new(message: String) -> Self {
        Self { message, usage: None }
    }
}

/// How the binary was invoked, from argv[0].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// As `fcp`: the first argument names the server.
    Fcp,
    /// Through a symlink named after a server.
    Server(&'static str),
    /// Under some other name.
    Unknown(String),
}

/// Decides from argv[0] how the binary was invoked (only the basename counts).
pub(crate) fn program(argv0: &OsStr) -> Program {
    let name = Path::new(argv0).file_name().unwrap_or(argv0).to_string_lossy();
    if name == "fcp" {
        return Program::Fcp;
    }
    match SERVER_NAMES.iter().find(|server| **server == name) {
        Some(server) => Program::Server(server),
        None => Program::Unknown(name.into_owned()),
    }
}

/// Rewrites `_` to `-` in the name of a long flag (`--etcd_servers=a_b` becomes `--etcd-servers=a_b`): only the
/// name part of `--name` / `--name=value`, never a value, a short flag or a positional argument.
pub(crate) fn normalize_flag(arg: &OsStr) -> OsString {
    let Some(text) = arg.to_str() else {
        return arg.to_owned();
    };
    let Some(flag) = text.strip_prefix("--") else {
        return arg.to_owned();
    };
    match flag.split_once('=') {
        Some((name, value)) => format!("--{}={value}", name.replace('_', "-")).into(),
        None => format!("--{}", flag.replace('_', "-")).into(),
    }
}

/// [`normalize_flag`] over the arguments after argv[0], up to a bare `--` (after which everything is a
/// positional argument and is left alone).
pub(crate) fn normalize_flags(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut options_ended = false;
    for arg in args {
        if options_ended {
            out.push(arg.clone());
        } else if arg == "--" {
            options_ended = true;
            out.push(arg.clone());
        } else {
            out.push(normalize_flag(arg));
        }
    }
    out
}

/// Parses a whole argv (argv[0] included).
///
/// # Errors
/// [`UsageError`] for an unknown server name, a missing server, or a malformed or unknown flag.
pub(crate) fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Action, UsageError> {
    let mut argv = argv.into_iter();
    let argv0 = argv.next().unwrap_or_else(|| OsString::from("fcp"));
    let args = normalize_flags(&argv.collect::<Vec<_>>());
    match program(&argv0) {
        Program::Fcp => parse_fcp(args),
        Program::Server(server) => parse_server(server, args),
        Program::Unknown(name) => Err(UsageError::new(format!(
            "unknown server name '{name}' (the program name); valid names: {}; or run 'fcp <server> [flags]'",
            SERVER_NAMES.join(", ")
        ))),
    }
}

/// `fcp [global flags] [server [flags]]`.
fn parse_fcp(args: Vec<OsString>) -> Result<Action, UsageError> {
    let mut command = FcpCli::command();
    let hint = help_hint(&args);
    let matches = match command
        .clone()
        .try_get_matches_from(std::iter::once(OsString::from("fcp")).chain(args))
    {
        Ok(matches) => matches,
        Err(err) => return clap_failure(err, &hint),
    };
    let cli = FcpCli::from_arg_matches(&matches).map_err(|err| one_line(&err, &hint))?;
    if cli.version {
        return Ok(Action::Version);
    }
    if let Some(dir) = cli.make_symlinks {
        return Ok(Action::MakeSymlinks(dir));
    }
    match cli.command {
        None => Err(UsageError {
            message: "no server specified".to_owned(),
            usage: Some(command.render_help().to_string()),
        }),
        Some(FcpCommand::FederationApiserver(server)) => Ok(apiserver_action(server)),
        Some(FcpCommand::FederationControllerManager(command)) => Ok(controller_manager_action(command)),
        Some(FcpCommand::SimCluster(command)) => Ok(Action::SimCluster(command)),
        Some(FcpCommand::LocalUp(command)) => Ok(Action::LocalUp(command)),
        Some(FcpCommand::Version) => Ok(Action::Version),
    }
}

/// `federation-apiserver [flags]` through a symlink: the same flags and help as `fcp federation-apiserver`,
/// with the usage line naming the symlink.
fn parse_server(server: &'static str, args: Vec<OsString>) -> Result<Action, UsageError> {
    let hint = format!("run '{server} --help' for usage");
    let Some(command) = FcpCli::command().find_subcommand(server).cloned() else {
        return Err(UsageError::new(format!("internal error: no command {server}")));
    };
    let command = command.name(server).bin_name(server);
    let matches = match command.try_get_matches_from(std::iter::once(OsString::from(server)).chain(args)) {
        Ok(matches) => matches,
        Err(err) => return clap_failure(err, &hint),
    };
    match server {
        FEDERATION_APISERVER => {
            let parsed = ApiServerCommand::from_arg_matches(&matches).map_err(|err| one_line(&err, &hint))?;
            Ok(apiserver_action(Box::new(parsed)))
        }
        _ => {
            let parsed =
                ControllerManagerCommand::from_arg_matches(&matches).map_err(|err| one_line(&err, &hint))?;
            Ok(controller_manager_action(Box::new(parsed)))
        }
    }
}

/// `federation-controller-manager --version` prints the version.
fn controller_manager_action(command: Box<ControllerManagerCommand>) -> Action {
    if command.version {
        Action::Version
    } else {
        Action::ControllerManager(command)
    }
}

/// `federation-apiserver --version` prints the version, as Kubernetes components do.
fn apiserver_action(command: Box<ApiServerCommand>) -> Action {
    if command.version {
        Action::Version
    } else {
        Action::ApiServer(command)
    }
}

/// Where to read more after a mistake: the help of the server named on the command line, else of fcp.
fn help_hint(args: &[OsString]) -> String {
    let server = args
        .iter()
        .find_map(|arg| COMMAND_NAMES.iter().find(|name| arg == **name));
    match server {
        Some(server) => format!("run 'fcp {server} --help' for usage"),
        None => "run 'fcp --help' for usage".to_owned(),
    }
}

/// Help requests become [`Action::Help`]; everything else one line.
fn clap_failure(err: clap::Error, hint: &str) -> Result<Action, UsageError> {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(Action::Help(err)),
        ErrorKind::InvalidSubcommand => {
            let name = match err.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(name)) => name.clone(),
                _ => String::new(),
            };
            Err(UsageError::new(format!(
                "unknown server name '{name}'; valid names: {}",
                SERVER_COMMANDS.join(", ")
            )))
        }
        _ => Err(one_line(&err, hint)),
    }
}

/// The first line of clap's rendering (without its `error: ` prefix), plus clap's suggestion or the valid
/// values when it has them, plus where to find the usage.
fn one_line(err: &clap::Error, hint: &str) -> UsageError {
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("invalid arguments");
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    let suggested = match err.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(suggested)) => Some(suggested),
        Some(ContextValue::Strings(suggested)) => suggested.first(),
        _ => None,
    };
    if let Some(suggested) = suggested {
        message.push_str(&format!(" (did you mean '{suggested}'?)"));
    } else if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue) {
        message.push_str(&format!(" (valid values: {})", valid.join(", ")));
    }
    message.push_str("; ");
    message.push_str(hint);
    UsageError::new(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn parse_args(args: &[&str]) -> Result<Action, UsageError> {
        parse(argv(args))
    }

    fn usage_error(args: &[&str]) -> UsageError {
        match parse_args(args) {
            Err(err) => err,
            Ok(action) => panic!("{args:?} parsed as {action:?}"),
        }
    }

    fn apiserver(args: &[&str]) -> ApiServerCommand {
        match parse_args(args) {
            Ok(Action::ApiServer(command)) => *command,
            other => panic!("{args:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn the_clap_command_is_well_formed() {
        FcpCli::command().debug_assert();
    }

    #[test]
    fn normalize_rewrites_only_long_flag_names() {
        let cases = [
            ("--etcd_servers", "--etcd-servers"),
            ("--etcd_servers=http://a_b:2379", "--etcd-servers=http://a_b:2379"),
            ("--etcd-prefix=/x_y", "--etcd-prefix=/x_y"),
            ("--data_dir=", "--data-dir="),
            ("-h", "-h"),
            ("-x_y", "-x_y"),
            ("federation_apiserver", "federation_apiserver"),
            ("/tmp/a_b", "/tmp/a_b"),
            ("--", "--"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_flag(OsStr::new(input)),
                OsString::from(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn normalize_stops_at_double_dash() {
        let normalized = normalize_flags(&argv(&["--a_b", "v_w", "--", "--c_d"]));
        assert_eq!(normalized, argv(&["--a-b", "v_w", "--", "--c_d"]));
    }

    #[test]
    fn program_name_is_the_basename_of_argv0() {
        assert_eq!(program(OsStr::new("fcp")), Program::Fcp);
        assert_eq!(program(OsStr::new("/usr/local/bin/fcp")), Program::Fcp);
        assert_eq!(
            program(OsStr::new("./federation-apiserver")),
            Program::Server(FEDERATION_APISERVER)
        );
        assert_eq!(
            program(OsStr::new("/federation-controller-manager")),
            Program::Server(FEDERATION_CONTROLLER_MANAGER)
        );
        assert_eq!(
            program(OsStr::new("/bin/foo")),
            Program::Unknown("foo".to_owned())
        );
        assert_eq!(
            program(OsStr::new("sim-cluster")),
            Program::Unknown("sim-cluster".to_owned())
        );
    }

    #[test]
    fn subcommand_runs_the_apiserver_with_its_flags() {
        let command = apiserver(&[
            "fcp",
            "federation-apiserver",
            "--etcd-prefix=/x",
            "--insecure-port",
            "8080",
        ]);
        assert_eq!(command.options.etcd_prefix, "/x");
        assert_eq!(command.options.insecure_port, 8080);
        assert_eq!(command.logging.log_format, LogFormat::Text);
    }

    #[test]
    fn underscores_in_flag_names_are_accepted() {
        let command = apiserver(&[
            "fcp",
            "federation-apiserver",
            "--etcd_prefix=/a_b",
            "--etcd_servers",
            "http://e_1:2379,http://e2:2379",
            "--log_format=json",
        ]);
        assert_eq!(command.options.etcd_prefix, "/a_b");
        assert_eq!(
            command.options.etcd_servers,
            ["http://e_1:2379", "http://e2:2379"]
        );
        assert_eq!(command.logging.log_format, LogFormat::Json);
    }

    #[test]
    fn symlink_name_selects_the_server() {
        let command = apiserver(&["/federation-apiserver", "--etcd_prefix", "/y"]);
        assert_eq!(command.options.etcd_prefix, "/y");
        let Ok(Action::ControllerManager(command)) = parse_args(&[
            "/usr/bin/federation-controller-manager",
            "--kubeconfig",
            "k",
            "--cluster_monitor_period=5s",
        ]) else {
            panic!("not the controller manager");
        };
        assert_eq!(command.options.kubeconfig.as_deref(), Some(Path::new("k")));
        assert_eq!(
            command.options.cluster_monitor_period,
            std::time::Duration::from_secs(5)
        );
    }

    #[test]
    fn symlink_help_names_the_symlink() {
        let Ok(Action::Help(help)) = parse_args(&["federation-apiserver", "--help"]) else {
            panic!("no help");
        };
        let text = help.render().to_string();
        assert!(text.contains("Usage: federation-apiserver [OPTIONS]"), "{text}");
        assert!(text.contains("--etcd-servers"), "{text}");
    }

    #[test]
    fn help_wins_over_other_flags() {
        let Ok(Action::Help(help)) =
            parse_args(&["fcp", "federation-apiserver", "--etcd_prefix=/x", "--help"])
        else {
            panic!("no help");
        };
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert!(
            help.render()
                .to_string()
                .contains("Usage: fcp federation-apiserver")
        );
    }

    #[test]
    fn fcp_help_lists_the_servers_and_says_what_fcp_is() {
        let Ok(Action::Help(help)) = parse_args(&["fcp", "--help"]) else {
            panic!("no help");
        };
        let text = help.render().to_string();
        assert!(text.starts_with("fcp is Kubernetes Cluster Federation"), "{text}");
        for name in COMMAND_NAMES {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.contains("SIMULATOR"), "{text}");
    }

    #[test]
    fn sim_cluster_help_says_it_is_a_simulator() {
        let Ok(Action::Help(help)) = parse_args(&["fcp", "sim-cluster", "--help"]) else {
            panic!("no help");
        };
        let text = help.render().to_string();
        assert!(text.contains("SIMULATOR"), "{text}");
        assert!(text.contains("--pod-capacity"), "{text}");
    }

    #[test]
    fn every_server_command_parses_its_flags() {
        let Ok(Action::SimCluster(command)) =
            parse_args(&["fcp", "sim-cluster", "--name", "c1", "--nodes", "2"])
        else {
            panic!("not sim-cluster");
        };
        assert_eq!((command.options.name.as_str(), command.options.nodes), ("c1", 2));
        let Ok(Action::LocalUp(command)) = parse_args(&["fcp", "local-up", "--clusters", "3", "--dir", "d"])
        else {
            panic!("not local-up");
        };
        assert_eq!(command.options.clusters, 3);
        assert_eq!(command.options.dir, Path::new("d"));
        assert!(matches!(
            parse_args(&["fcp", "federation-controller-manager", "--controllers", "secrets=false"]),
            Ok(Action::ControllerManager(c)) if !c.options.controllers.enabled("secrets")
        ));
        let err = usage_error(&[
            "fcp",
            "federation-controller-manager",
            "--cluster-monitor-period",
            "soon",
        ]);
        assert!(err.message.contains("soon"), "{}", err.message);
    }

    #[test]
    fn version_as_flag_and_subcommand() {
        assert!(matches!(parse_args(&["fcp", "--version"]), Ok(Action::Version)));
        assert!(matches!(parse_args(&["fcp", "-V"]), Ok(Action::Version)));
        assert!(matches!(parse_args(&["fcp", "version"]), Ok(Action::Version)));
        assert!(matches!(
            parse_args(&["fcp", "federation-apiserver", "--version"]),
            Ok(Action::Version)
        ));
        assert!(matches!(
            parse_args(&["federation-apiserver", "--version"]),
            Ok(Action::Version)
        ));
    }

    #[test]
    fn make_symlinks_defaults_to_the_current_directory() {
        assert!(
            matches!(parse_args(&["fcp", "--make-symlinks"]), Ok(Action::MakeSymlinks(dir)) if dir == Path::new("."))
        );
        assert!(
            matches!(parse_args(&["fcp", "--make_symlinks", "/opt/bin"]), Ok(Action::MakeSymlinks(dir)) if dir == Path::new("/opt/bin"))
        );
        assert!(
            matches!(parse_args(&["fcp", "--make-symlinks=/opt"]), Ok(Action::MakeSymlinks(dir)) if dir == Path::new("/opt"))
        );
    }

    #[test]
    fn unknown_server_lists_the_valid_names() {
        let err = usage_error(&["fcp", "foo"]);
        assert_eq!(
            err.message,
            "unknown server name 'foo'; valid names: federation-apiserver, federation-controller-manager, \
             sim-cluster, local-up"
        );
        let err = usage_error(&["/usr/bin/foo", "--x"]);
        assert!(
            err.message.starts_with("unknown server name 'foo'"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("federation-apiserver, federation-controller-manager"),
            "{}",
            err.message
        );
    }

    #[test]
    fn no_server_prints_usage() {
        let err = usage_error(&["fcp"]);
        assert_eq!(err.message, "no server specified");
        assert!(
            err.usage
                .is_some_and(|usage| usage.contains("federation-apiserver"))
        );
    }

    #[test]
    fn bad_flags_are_one_line_naming_the_cause() {
        let err = usage_error(&["fcp", "federation-apiserver", "--bogus"]);
        assert_eq!(
            err.message,
            "unexpected argument '--bogus' found; run 'fcp federation-apiserver --help' for usage"
        );
        assert_eq!(err.usage, None);

        let err = usage_error(&["fcp", "federation-apiserver", "--etcd-prefx=/x"]);
        assert!(
            err.message.contains("(did you mean '--etcd-prefix'?)"),
            "{}",
            err.message
        );

        let err = usage_error(&["fcp", "federation-apiserver", "--log-format=xml"]);
        assert!(
            err.message.starts_with("invalid value 'xml' for '--log-format"),
            "{}",
            err.message
        );
        assert!(err.message.contains("text, json"), "{}", err.message);

        let err = usage_error(&["federation-apiserver", "--insecure-port=http"]);
        assert!(
            err.message
                .starts_with("invalid value 'http' for '--insecure-port"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with("run 'federation-apiserver --help' for usage"),
            "{}",
            err.message
        );

        let err = usage_error(&["fcp", "--bogus"]);
        assert!(
            err.message.ends_with("run 'fcp --help' for usage"),
            "{}",
            err.message
        );

        let err = usage_error(&["fcp", "federation-apiserver", "--request-timeout=5x"]);
        assert!(
            err.message
                .starts_with("invalid value '5x' for '--request-timeout"),
            "{}",
            err.message
        );
        assert!(!err.message.contains('\n'), "{}", err.message);
    }
}
