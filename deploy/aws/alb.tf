# The ALB in the public subnets: HTTPS (TLS 1.3 policy) with an ACM
# certificate for the origin name, HTTP redirected to HTTPS, the api target
# group health-checked on /readyz. Only CloudFront reaches it (the security
# group admits its origin-facing prefix list, and the listener forwards only
# requests carrying CloudFront's secret origin header).

# The secret header CloudFront adds to every origin request. The same value
# must reach the standby's ALB, so it lives in a secret replicated to the DR
# region, where the standby reads it.
resource "random_password" "origin_header" {
  count   = local.primary ? 1 : 0
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "origin_header" {
  # checkov:skip=CKV2_AWS_57: a shared value between CloudFront and the ALBs, changed by Terraform (taint random_password.origin_header); no AWS rotation function exists for it.
  count                   = local.primary ? 1 : 0
  name                    = "${var.project}/${var.environment}/origin-header"
  description             = "The X-Origin-Verify value CloudFront sends and the ALBs require"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = local.production ? 30 : 7

  replica {
    region     = var.dr_region
    kms_key_id = aws_kms_key.dr[0].arn
  }
}

resource "aws_secretsmanager_secret_version" "origin_header" {
  count         = local.primary ? 1 : 0
  secret_id     = aws_secretsmanager_secret.origin_header[0].id
  secret_string = random_password.origin_header[0].result
}

data "aws_secretsmanager_secret_version" "origin_header_replica" {
  count     = var.standby ? 1 : 0
  secret_id = "${var.project}/${var.environment}/origin-header"
}

locals {
  origin_header = local.primary ? random_password.origin_header[0].result : data.aws_secretsmanager_secret_version.origin_header_replica[0].secret_string
}

resource "aws_lb" "main" {
  # checkov:skip=CKV2_AWS_76: the ACL has KnownBadInputs (its Log4JRCE rules); AnonymousIpList judges the connecting address, which behind CloudFront is always CloudFront's, so it cannot work here.
  name                       = local.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = local.production
  # WebSockets (/v1/ws) are pinged every 20 s; 60 s keeps idle ones open.
  idle_timeout = 60
  # Keep X-Forwarded-For as CloudFront sent it: CloudFront appended the
  # viewer's address last, which is the one Croupier takes
  # (CROUPIER_HTTP__TRUST_FORWARDED_FOR). "append" would add CloudFront's own
  # address after it.
  xff_header_processing_mode = "preserve"

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "api" {
  # checkov:skip=CKV_AWS_378: the ALB talks plain HTTP to the tasks inside the VPC: Croupier serves no TLS (README, "Encryption in transit").
  name        = "${local.name}-api"
  port        = 8080
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = aws_vpc.main.id
  # Longer than the api's drain and at least a request's deadline: ECS waits
  # this long after deregistering a task before it sends SIGTERM.
  deregistration_delay = local.deregistration_delay

  health_check {
    path                = "/readyz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = local.health_check_interval
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = local.health_check_unhealthy
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.origin.certificate_arn

  # Anything that did not come through this stack's CloudFront.
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "Forbidden"
      status_code  = "403"
    }
  }
}

resource "aws_lb_listener_rule" "from_cloudfront" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    http_header {
      http_header_name = "X-Origin-Verify"
      values           = [local.origin_header]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
