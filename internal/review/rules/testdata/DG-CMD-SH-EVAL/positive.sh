eval "$cmd"
eval $1
eval "${ARGS[@]}"
  eval "docker run $IMAGE"
if true; then eval "$line"; fi
