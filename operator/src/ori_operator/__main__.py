"""`python -m ori_operator`."""

from ori_operator.main import main

main()
