"""moto, with the CloudWatch Logs calls it lacks (AssociateKmsKey, DisassociateKmsKey), and
CreateService keeping the deployment configuration it is given.

The operator repairs a log group whose KMS key was removed with AssociateKmsKey, and the tests
remove it with DisassociateKmsKey, as an attacker or a hand-made change would. moto 5.2.5
implements neither (an HTML 500), so this launcher adds both to moto's own Logs handler before it
starts the server; moto itself is not changed. Arguments are moto_server's.

moto 5.2.5's CreateService drops `deploymentConfiguration` (UpdateService keeps it), so every new
service would read back with its circuit breaker off and cost an UpdateService and a whole extra
reconcile pass that AWS never needs. The launcher stores it as UpdateService does.
"""

import sys

from moto.ecs.responses import EC2ContainerServiceResponse
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.responses import LogsResponse
from moto.server import main


def _group(response):
    name = response._get_param("logGroupName")
    group = response.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return group


def associate_kms_key(self):
    _group(self).kms_key_id = self._get_param("kmsKeyId")
    return ""


def disassociate_kms_key(self):
    _group(self).kms_key_id = None
    return ""


_create_service = EC2ContainerServiceResponse.create_service


def create_service(self):
    result = _create_service(self)
    config = self._get_param("deploymentConfiguration")
    if config is not None:
        service = self.ecs_backend._get_service(
            self._get_param("cluster", "default"), self._get_param("serviceName")
        )
        service.deployment_configuration = config
    return result


EC2ContainerServiceResponse.create_service = create_service
LogsResponse.associate_kms_key = associate_kms_key
LogsResponse.disassociate_kms_key = disassociate_kms_key

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
