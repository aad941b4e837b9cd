export VAULT_TOKEN=hvs.short
export VAULT_TOKEN="${VAULT_TOKEN}"
vault login -method=github
