# bash completion for dbroker                              -*- shell-script -*-
# Commands, subcommands and options; profile names from the configuration
# file (section names only: nothing else of the file is read).

_dbroker_profiles()
{
    local cfg=${DATABRICKS_CONFIG_FILE:-$HOME/.databrickscfg}
    [[ -r $cfg ]] || return
    sed -n 's/^[[:space:]]*\[\([^]]*\)\].*/\1/p' "$cfg" 2>/dev/null
}

_dbroker()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local globals="--profile --config-file --chain --auth-type --plugin-dir --output --log-level
        --log-file --debug --strict --ca-cert --retry-window --allow-http-loopback
        --no-agent --help --version"
    local commands="login logout auth clusters jobs api exec tokens agent help version"

    case $prev in
        -p|--profile)
            COMPREPLY=($(compgen -W "$(_dbroker_profiles)" -- "$cur")); return ;;
        -o|--output)
            COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --log-level)
            COMPREPLY=($(compgen -W "error warn info debug trace" -- "$cur")); return ;;
        --auth-type)
            COMPREPLY=($(compgen -W "pat oauth-m2m" -- "$cur")); return ;;
        --store)
            COMPREPLY=($(compgen -W "keyring kernel" -- "$cur")); return ;;
        --config-file|--log-file|--ca-cert|--json|--socket)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --plugin-dir)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --chain|--timeout|--retry-window|--limit|--name|--host|--ttl|--reread|--mint|--lifetime|--comment)
            return ;;
    esac

    # the command and subcommand typed so far (global options skipped)
    local i cmd="" sub=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -p|--profile|-o|--output|--config-file|--chain|--auth-type|--plugin-dir|\
            --log-level|--log-file|--ca-cert|--retry-window)
                ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then cmd=${words[i]}
                elif [[ -z $sub ]]; then sub=${words[i]}
                fi ;;
        esac
    done

    local opts=""
    case $cmd in
        "")
            if [[ $cur == -* ]]; then opts=$globals; else opts=$commands; fi ;;
        help)
            [[ -z $sub ]] && opts="login logout auth clusters jobs api exec tokens agent version" ;;
        auth)
            if [[ -z $sub ]]; then opts="describe"; else opts="--check"; fi ;;
        login)
            opts="--host --store --ttl --session --verify --remove-plaintext" ;;
        logout)
            opts="--store" ;;
        clusters)
            case $sub in
                "") opts="create get list delete" ;;
                create) opts="--json --name --num-workers --autoscale --spark-version
                    --node-type --driver-node-type --instance-pool --policy-id
                    --autotermination-minutes --runtime-engine --data-security-mode
                    --single-user --idempotency-token --no-wait --timeout --dry-run" ;;
                list) opts="--limit" ;;
                delete) opts="--no-wait --timeout" ;;
            esac ;;
        jobs)
            case $sub in
                "") opts="run-now submit get-run get-run-output cancel-run list list-runs" ;;
                run-now|submit) opts="--json --idempotency-token --no-wait --timeout
                    --cancel-on-interrupt --dry-run" ;;
                cancel-run) opts="--wait --timeout" ;;
                list) opts="--name --limit" ;;
                list-runs) opts="--job-id --active-only --limit" ;;
            esac ;;
        api)
            if [[ -z $sub ]]; then opts="GET POST PUT PATCH DELETE HEAD"; else opts="--json"; fi ;;
        exec)
            opts="--mint --pass-token --no-mask --port --max-body --max-connections" ;;
        tokens)
            case $sub in
                "") opts="create list revoke" ;;
                create) opts="--lifetime --comment --store --print" ;;
            esac ;;
        agent)
            case $sub in
                "") opts="start status lock forget stop" ;;
                start) opts="--ttl --reread --socket --foreground --confirm" ;;
                forget) opts="$(_dbroker_profiles)" ;;
            esac ;;
        version)
            opts="--output" ;;
    esac
    [[ $cur == -* && -n $cmd ]] && opts="$opts $globals"
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _dbroker dbroker
