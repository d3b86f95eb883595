listener "tcp" {
  address         = "[::]:8200"
  cluster_address = "[::]:8201"
  tls_cert_file   = "/openbao/tls/tls.crt"
  tls_key_file    = "/openbao/tls/tls.key"
  tls_min_version = "tls13"
}

storage "raft" {
  path = "/openbao/data"

  retry_join {
    leader_api_addr     = "https://openbao-0.openbao-internal.vault.svc:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }

  retry_join {
    leader_api_addr     = "https://openbao-1.openbao-internal.vault.svc:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }

  retry_join {
    leader_api_addr     = "https://openbao-2.openbao-internal.vault.svc:8200"
    leader_ca_cert_file = "/openbao/tls/ca.crt"
  }
}

service_registration "kubernetes" {}

audit "file" "stdout" {
  description = "every request and response, secrets HMAC-ed, to the container log"

  options {
    file_path = "stdout"
    format    = "json"
  }
}
