# bash completion for portable-attach(8)                     -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
# Verbs and options as in src/cli/main.ts and src/cli/options.ts. Entry names come from the section
# headers of the list files (the same files portable-attach.conf(5) names), images from the
# directories bare image names are looked up in, units for enable/disable from the generator
# directory (and, for disable, EnableUnits= of the lists).

__portable_attach_entries() {
    local root=$1 f
    local -a files=("$root"/etc/portable-attach.conf "$root"/run/portable-attach.conf)
    for f in "$root"/etc/portable-attach.d/*.conf "$root"/run/portable-attach.d/*.conf \
             "$root"/usr/local/lib/portable-attach.d/*.conf "$root"/usr/lib/portable-attach.d/*.conf; do
        files+=("$f")
    done
    for f in "${files[@]}"; do
        [[ -r $f && -f $f ]] || continue
        sed -n 's/^[[:space:]]*\[\([^]]*\)\].*/\1/p' "$f" 2>/dev/null
    done | sort -u
}

# Units the generator attached (they have our 20-portable.conf), a template as "foo@" to type the
# instance after; with "enabled", also the units the lists name in EnableUnits=.
__portable_attach_units() {
    local root=$1 which=${2-} d u f
    for d in "$root"/run/systemd/generator/*.d/20-portable.conf; do
        [[ -e $d ]] || continue
        u=${d%.d/20-portable.conf}
        u=${u##*/}
        [[ $u == *@.* ]] && u=${u%%@.*}@
        printf '%s\n' "$u"
    done
    [[ $which == enabled ]] || return 0
    for f in "$root"/etc/portable-attach.conf "$root"/run/portable-attach.conf "$root"/etc/portable-attach.d/*.conf \
             "$root"/run/portable-attach.d/*.conf "$root"/usr/local/lib/portable-attach.d/*.conf "$root"/usr/lib/portable-attach.d/*.conf; do
        [[ -r $f && -f $f ]] || continue
        sed -n 's/^[[:space:]]*EnableUnits[[:space:]]*=\([^;#]*\).*/\1/p' "$f" 2>/dev/null | tr -s ' \t' '\n'
    done
}

__portable_attach_images() {
    local root=$1 d p
    for d in /etc/portables /run/portables /var/lib/portables /usr/local/lib/portables /usr/lib/portables; do
        for p in "$root$d"/*; do
            [[ -e $p ]] || continue
            p=${p##*/}
            p=${p%.raw}
            printf '%s\n' "${p%%_*}"
        done
    done | sort -u
}

_portable_attach() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local verbs='list attach detach reattach enable disable inspect is-attached status reload'
    local opts='-h --help --version -q --quiet --runtime --root= --no-reload --now --no-block
                --enable --force --extension= -p --profile= --name= --cat --json= --no-legend
                --no-pager --no-ask-password --if-changed'

    case $prev in
        --root)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --extension)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -p|--profile)
            COMPREPLY=($(compgen -W 'default nonetwork strict trusted' -- "$cur")); return ;;
        --json)
            COMPREPLY=($(compgen -W 'pretty short off' -- "$cur")); return ;;
        --name)
            return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        [[ ${COMPREPLY[0]-} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi

    local i verb='' root=''
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --root=*) root=${words[i]#--root=} ;;
            --root) root=${words[i+1]} ;;
            -*) ;;
            *) if [[ -z $verb && " $verbs " == *" ${words[i]} "* ]]; then verb=${words[i]}; fi ;;
        esac
    done

    case $verb in
        '')
            COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
        attach|inspect)
            COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "$(__portable_attach_images "$root")" -- "$cur")) ;;
        enable|disable)
            local which=
            [[ $verb == disable ]] && which=enabled
            COMPREPLY=($(compgen -W "$(__portable_attach_entries "$root") $(__portable_attach_units "$root" $which | sort -u)" -- "$cur"))
            [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *@ ]] && compopt -o nospace 2>/dev/null ;;
        detach|reattach|is-attached|status)
            COMPREPLY=($(compgen -W "$(__portable_attach_entries "$root")" -- "$cur")) ;;
    esac
}

complete -F _portable_attach portable-attach
