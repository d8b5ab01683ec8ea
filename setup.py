from setuptools import find_packages, setup

setup(
    name="chicago_food_assets",
    version="0.1.0",
    description="Predict which Chicago food establishments will fail their next inspection: a Dagster asset platform.",
    python_requires=">=3.11,<3.12",
    packages=find_packages(exclude=["chicago_food_assets_tests", "chicago_food_assets_tests.*"]),
    package_data={"chicago_food_assets": ["data/*.jsonl.gz", "data/README.md"]},
    install_requires=[
        # The stack as it resolves (../shared/GUIDE.md section 1): the integrations need exactly this core.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-aws==0.29.27",
        "dagster-postgres==0.29.27",
        "dagster-pandas==0.29.27",
        "pandas>=2.2,<3",
        "pyarrow>=15",  # Arrow-backed strings: cleaning runs its string work in C++
        "numpy>=1.26",
        "sqlalchemy>=2.0,<2.1",
        "psycopg2-binary>=2.9.9",
        "pgserver==0.1.4",
        "sodapy==2.2.0",
        "requests>=2.31",
        "boto3>=1.34",
        "tabulate>=0.9",
        "scikit-learn>=1.5",
        "xgboost-cpu>=2.1",
        "aequitas==1.1.0",
        "litestar>=2.25,<3",
        "uvicorn>=0.30",
        "asyncpg>=0.29",
        "panel>=1.5",
        "hvplot>=0.10",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "moto[s3]>=5.0",
            "flask",
            "flask-cors",
            "ruff>=0.6",
            "playwright>=1.45",
            "psutil>=5.9",
            "openapi-spec-validator>=0.7",
        ]
    },
)
