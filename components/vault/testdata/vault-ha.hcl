disable_mlock = true

listener "tcp" {
  address         = "[::]:8200"
  cluster_address = "[::]:8201"
  tls_cert_file   = "/vault/tls/tls.crt"
  tls_key_file    = "/vault/tls/tls.key"
  tls_min_version = "tls13"
}

storage "raft" {
  path = "/vault/data"

  retry_join {
    leader_api_addr     = "https://vault-0.vault-internal.secrets.svc:8200"
    leader_ca_cert_file = "/vault/tls/ca.crt"
  }

  retry_join {
    leader_api_addr     = "https://vault-1.vault-internal.secrets.svc:8200"
    leader_ca_cert_file = "/vault/tls/ca.crt"
  }

  retry_join {
    leader_api_addr     = "https://vault-2.vault-internal.secrets.svc:8200"
    leader_ca_cert_file = "/vault/tls/ca.crt"
  }
}

service_registration "kubernetes" {}
