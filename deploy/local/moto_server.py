"""moto, with the CloudWatch Logs calls it lacks: AssociateKmsKey and DisassociateKmsKey.

The operator repairs a log group whose KMS key was removed with AssociateKmsKey, and the tests
remove it with DisassociateKmsKey, as an attacker or a hand-made change would. moto 5.2.5
implements neither (an HTML 500), so this launcher adds both to moto's own Logs handler before it
starts the server; moto itself is not changed. Arguments are moto_server's.
"""

import sys

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


LogsResponse.associate_kms_key = associate_kms_key
LogsResponse.disassociate_kms_key = disassociate_kms_key

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
