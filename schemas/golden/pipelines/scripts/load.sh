echo load "$@"
