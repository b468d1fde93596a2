-- Onboarding with plain SQL: one INSERT for the tenant, one per agent.
INSERT INTO openclaw.tenants (name, display_name, region) VALUES ('hooli', 'Hooli', 'us-east-1');
INSERT INTO openclaw.agents (tenant, kind, model, integrations)
  VALUES ('hooli', 'butler', 'anthropic.claude-3-5-haiku-20241022-v1:0', '{gmail,calendar}');
INSERT INTO openclaw.agents (tenant, kind, model) VALUES ('hooli', 'scout', 'amazon.nova-lite-v1:0');
