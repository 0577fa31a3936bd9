"""``python -m connector`` is the same as the ``connector`` console script."""

from connector.app.entry import main

if __name__ == "__main__":
    main()
