eval "$(ssh-agent -s)"
eval "$(pyenv init -)"
# eval "$cmd"
echo "evaluate $x"
