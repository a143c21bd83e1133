package main

// examples are the Examples: sections of the commands' help, by command path without "rolegate ".
// finish sets them; a test walks the tree and fails for a command without one.
var examples = map[string]string{
	"rolegate": `  rolegate serve --base-url https://sso.example.com
  rolegate user list -o json
  rolegate --version`,
	"version": `  rolegate version
  rolegate version --json | jq -r .commit`,
	"completion": `  source <(rolegate completion bash)
  rolegate completion zsh > "${fpath[1]}/_rolegate"`,
	"completion bash": `  source <(rolegate completion bash)
  rolegate completion bash > /etc/bash_completion.d/rolegate`,
	"completion zsh":        `  rolegate completion zsh > "${fpath[1]}/_rolegate"`,
	"completion fish":       `  rolegate completion fish > ~/.config/fish/completions/rolegate.fish`,
	"completion powershell": `  rolegate completion powershell | Out-String | Invoke-Expression`,
	"serve": `  rolegate serve --base-url https://sso.example.com
  rolegate serve --addr 127.0.0.1:8080 --demo`,
	"bench": `  rolegate bench --url http://127.0.0.1:8080 --scenario sso --concurrency 8 --duration 30s
  rolegate bench --url http://127.0.0.1:8080 --scenario login --concurrency 4 -o json | jq .requests_per_second`,
	"migrate": `  rolegate migrate
  rolegate migrate --database-url postgres://rolegate@db/rolegate`,

	"user": `  rolegate user add alice --email alice@example.com
  rolegate user list -o name`,
	"user add": `  rolegate user add alice --email alice@example.com --display-name "Alice Liddell"
  printf '%s\n' "$PW" | rolegate user add bob --password-stdin --if-not-exists --json
  rolegate user add ci-bot --no-password --attr team=platform`,
	"user passwd": `  rolegate user passwd alice
  printf '%s\n' "$PW" | rolegate user passwd alice --password-stdin`,
	"user disable": `  rolegate user disable alice
  rolegate user disable alice --revoke-aws`,
	"user enable": `  rolegate user enable alice`,
	"user list": `  rolegate user list
  rolegate user list -o json | jq -r '.[] | select(.disabled) | .name'
  rolegate user list -o name --no-headers`,
	"user set-attr": `  rolegate user set-attr alice team=platform cost_center=42
  rolegate user set-attr alice team= --json`,
	"user remove": `  rolegate user remove alice
  rolegate user remove alice --yes`,
	"user unlock": `  rolegate user unlock alice`,
	"user mfa": `  rolegate user mfa list alice
  rolegate user mfa reset alice`,
	"user mfa enroll": `  rolegate user mfa enroll alice --totp`,
	"user mfa invite": `  rolegate user mfa invite alice --ttl 24h`,
	"user mfa list": `  rolegate user mfa list alice
  rolegate user mfa list alice -o yaml`,
	"user mfa reset": `  rolegate user mfa reset alice`,

	"group": `  rolegate group add admins
  rolegate group add-member admins alice`,
	"group add": `  rolegate group add admins
  rolegate group add admins --if-not-exists --json`,
	"group add-member":    `  rolegate group add-member admins alice`,
	"group remove-member": `  rolegate group remove-member admins alice`,
	"group list": `  rolegate group list
  rolegate group list -o json | jq -r '.[] | select(.members | index("alice")) | .name'`,
	"group remove": `  rolegate group remove admins
  rolegate group remove admins --yes`,

	"account": `  rolegate account add 111122223333 --alias prod --session-duration 4h
  rolegate account list`,
	"account add": `  rolegate account add 111122223333 --alias prod
  rolegate account add 111122223333 --alias prod --session-duration 4h --require-mfa --if-not-exists --json
  rolegate account add 222233334444 --alias gov --partition aws-us-gov --region us-gov-west-1`,
	"account set": `  rolegate account set prod --session-duration 8h
  rolegate account set prod --require-mfa=true --json
  rolegate account set prod --encrypt required`,
	"account list": `  rolegate account list
  rolegate account list -o name
  rolegate account list -o yaml`,
	"account remove": `  rolegate account remove prod
  rolegate account remove 111122223333 --yes`,

	"grant": `  rolegate grant add --group admins --account prod --role Admin
  rolegate grant list --user alice --effective`,
	"grant add": `  rolegate grant add --group admins --account prod --role Admin
  rolegate grant add --user alice --account 111122223333 --role ReadOnly --session-duration 1h --if-not-exists --json`,
	"grant list": `  rolegate grant list
  rolegate grant list --user alice --effective -o json
  rolegate grant list --account prod --no-headers`,
	"grant remove": `  rolegate grant remove 12 --yes
  rolegate grant remove --group admins --account prod --role Admin --yes`,

	"tag": `  rolegate tag add --account prod --key team --from-attr team
  rolegate tag list`,
	"tag add": `  rolegate tag add --account prod --key team --from-attr team
  rolegate tag add --account prod --key env --value production --transitive --if-not-exists`,
	"tag list": `  rolegate tag list
  rolegate tag list --account prod -o json`,
	"tag remove": `  rolegate tag remove 3 --yes
  rolegate tag remove --account prod --key team --yes`,

	"keys": `  rolegate keys list
  rolegate keys rotate`,
	"keys list": `  rolegate keys list
  rolegate keys list -o json | jq -r '.[] | select(.state == "current") | .fingerprint'`,
	"keys rotate": `  rolegate keys rotate
  rolegate keys rotate --force`,

	"audit": `  rolegate audit --since 24h
  rolegate audit --type account.set --account prod
  rolegate audit --user alice --since 2026-11-01 --until 2026-12-01 -o json`,

	"sp": `  rolegate sp add --metadata wiki-metadata.xml --release email
  rolegate sp list`,
	"sp add": `  rolegate sp add --metadata wiki-metadata.xml --release email,name
  curl -s https://wiki.example.com/saml/metadata | rolegate sp add --metadata - --allow-group staff --if-not-exists --json`,
	"sp set": `  rolegate sp set https://wiki.example.com/saml/metadata --release email
  rolegate sp set https://wiki.example.com/saml/metadata --allow-group support --json`,
	"sp list": `  rolegate sp list
  rolegate sp list -o name`,
	"sp remove": `  rolegate sp remove https://wiki.example.com/saml/metadata --yes`,

	"mfa": `  rolegate mfa window open --for 48h
  rolegate mfa window show`,
	"mfa window": `  rolegate mfa window open --account prod --for 24h
  rolegate mfa window close --account prod`,
	"mfa window open": `  rolegate mfa window open --for 48h
  rolegate mfa window open --account prod --until 2026-12-24`,
	"mfa window close": `  rolegate mfa window close
  rolegate mfa window close --account prod`,
	"mfa window show": `  rolegate mfa window show
  rolegate mfa window show -o json`,

	"unlock": `  rolegate unlock --address 198.51.100.7`,

	"session": `  rolegate session list --user alice
  rolegate session revoke --user alice`,
	"session list": `  rolegate session list
  rolegate session list --user alice -o json`,
	"session revoke": `  rolegate session revoke cs_4f2a9c
  rolegate session revoke --user alice`,

	"login": `  rolegate login --url https://sso.example.com --profile prod-admin --account prod --role Admin
  rolegate login --url https://sso.example.com --device-code
  ROLEGATE_USERNAME=alice rolegate login --url https://sso.example.com --ecp --account prod --role ReadOnly`,
	"credential-process": `  # in ~/.aws/config:
  #   [profile prod-admin]
  #   credential_process = rolegate credential-process --profile prod-admin
  rolegate credential-process --profile prod-admin`,
	"exec": `  rolegate exec --profile prod-admin -- aws sts get-caller-identity`,
	"console": `  rolegate console --profile prod-admin
  rolegate console --profile prod-admin --print`,

	"aws": `  rolegate aws register --all
  rolegate aws check --account prod`,
	"aws metadata": `  rolegate aws metadata --out rolegate-metadata.xml`,
	"aws register": `  rolegate aws register --account prod --dry-run
  rolegate aws register --all --profile admin`,
	"aws check": `  rolegate aws check --account prod
  rolegate aws check --all`,
	"aws trust-policy": `  rolegate aws trust-policy --account prod --role Admin
  rolegate aws trust-policy --account prod --role Admin --json`,
	"aws revoke": `  rolegate aws revoke --user alice
  rolegate aws revoke --user alice --account prod`,
}
